"""Gene-set enrichment of the DE ranking (preranked GSEA with gseapy) and per-sample pathway
scores (ssGSEA with gseapy) correlated with the rad-score.

Each collection (a GMT file, or the reference's cell-type markers) is tested on its own, so its
FDR is computed within the collection, as MSigDB results are usually reported; gseapy computes
one FDR over the union when given several libraries at once.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from ..errors import UserError
from .de import rank_association

__all__ = ["collapse_symbols", "enrichment", "pathway_scores", "ranking"]

GSEA_COLUMNS = ["Term", "ES", "NES", "NOM p-val", "FDR q-val", "FWER p-val", "Tag %", "Gene %",
                "Lead_genes"]


def ranking(results: pd.DataFrame, rank_by: str = "stat", symbol: str = "gene_name") -> pd.Series:
    """The preranked list: ``results[rank_by]`` by gene symbol, highest first.

    Genes without a value (filtered by PyDESeq2) are left out; where several genes share a
    symbol the one with the largest absolute value is kept.
    """
    for col in (rank_by, symbol):
        if col not in results.columns:
            msg = f"GSEA: column {col!r} not in the DE results (columns: {list(results.columns)})"
            raise UserError(msg)
    frame = results[[symbol, rank_by]].dropna()
    frame = frame[frame[symbol].astype(str).str.len() > 0]
    frame = frame.assign(_abs=frame[rank_by].abs()).sort_values("_abs", ascending=False,
                                                                 kind="stable")
    frame = frame.drop_duplicates(symbol, keep="first")
    out = pd.Series(frame[rank_by].to_numpy(dtype=float), index=frame[symbol].astype(str).to_numpy(),
                    name=rank_by)
    return out.sort_values(ascending=False, kind="stable")


def collapse_symbols(matrix: pd.DataFrame, symbols: Sequence[str]) -> pd.DataFrame:
    """Samples × genes → samples × symbols, keeping for each symbol its highest-mean gene
    (columns stay in their original order: ssGSEA breaks rank ties by position)."""
    means = np.nanmean(matrix.to_numpy(dtype=float), axis=0)
    frame = pd.DataFrame({"symbol": np.asarray(symbols, dtype=str), "mean": means,
                          "pos": np.arange(len(means))})
    best = frame.sort_values(["mean", "pos"], ascending=[False, True], kind="stable")
    keep = np.sort(best.drop_duplicates("symbol")["pos"].to_numpy())
    out = matrix.iloc[:, keep]
    out.columns = pd.Index(frame["symbol"].to_numpy()[keep])
    return out


def _check_sets(collections: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
    if not collections:
        msg = "GSEA: no gene-set collection given (gsea.gene_sets lists GMT files)"
        raise UserError(msg)
    seen: dict[str, str] = {}
    for coll, sets in collections.items():
        for name in sets:
            if name in seen:
                msg = (f"GSEA: set name {name!r} occurs in collections {seen[name]!r} and "
                       f"{coll!r}; set names must be unique across collections")
                raise UserError(msg)
            seen[name] = coll


def enrichment(
    adata: ad.AnnData,
    gene_sets: Mapping[str, Mapping[str, Sequence[str]]],
    *,
    rank_by: str = "stat",
    permutations: int = 1000,
    seed: int = 0,
    threads: int = 1,
    min_size: int = 15,
    max_size: int = 500,
    weight: float = 1.0,
) -> None:
    """Preranked GSEA (``gseapy.prerank``) of the DE results in ``adata.uns["de"]``.

    Parameters
    ----------
    adata
        Bulk AnnData after :func:`~radiogenomics.expression.differential_expression`.
    gene_sets
        Collection name → {set name → gene symbols}.
    rank_by
        DE column that ranks the genes (the Wald statistic by default).
    permutations, seed, threads, min_size, max_size, weight
        Passed to ``gseapy.prerank`` (gene-set permutations, as for any preranked list).

    Returns
    -------
    None
        Results are stored in ``adata.uns["gsea"]``: ``results`` (one row per set with gseapy's
        columns ``Term ES NES NOM p-val FDR q-val FWER p-val Tag % Gene % Lead_genes`` plus
        ``collection`` and ``size``), ``running`` (set → DataFrame ``rank, gene, running_es,
        hit`` of the running enrichment score), ``ranking`` (the ranked list) and ``params``.
    """
    import gseapy

    if "de" not in adata.uns or "results" not in adata.uns["de"]:
        msg = "GSEA: no DE results in adata.uns['de']; run differential_expression first"
        raise UserError(msg)
    _check_sets(gene_sets)
    rnk = ranking(adata.uns["de"]["results"], rank_by)
    start = time.perf_counter()
    tables, running = [], {}
    for coll, sets in gene_sets.items():
        sizes = {name: len(set(genes) & set(rnk.index)) for name, genes in sets.items()}
        testable = {n: list(g) for n, g in sets.items() if min_size <= sizes[n] <= max_size}
        if not testable:
            logger.warning("GSEA: no set of collection %r has between %d and %d ranked genes; "
                           "skipped", coll, min_size, max_size)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = gseapy.prerank(rnk=rnk, gene_sets=testable, permutation_num=permutations,
                                 seed=seed, threads=threads, min_size=min_size, max_size=max_size,
                                 weight=weight, outdir=None, no_plot=True, verbose=False)
        table = res.res2d[GSEA_COLUMNS].copy()
        table.insert(0, "collection", coll)
        table["size"] = table["Term"].map(sizes).astype(int)
        tables.append(table)
        genes = rnk.index.to_numpy()
        for term, rec in res.results.items():
            hit = np.zeros(len(genes), dtype=bool)
            hit[np.asarray(rec["hits"], dtype=int)] = True
            running[term] = pd.DataFrame({"rank": np.arange(1, len(genes) + 1), "gene": genes,
                                          "running_es": np.asarray(rec["RES"], dtype=float),
                                          "hit": hit})
    if not tables:
        msg = (f"GSEA: no gene set has between {min_size} and {max_size} genes among the "
               f"{len(rnk)} ranked genes; check that the GMT files use gene symbols")
        raise UserError(msg)
    results = pd.concat(tables, ignore_index=True)
    for col in ("ES", "NES", "NOM p-val", "FDR q-val", "FWER p-val"):
        results[col] = results[col].astype(float)
    results = results.sort_values(["FDR q-val", "NOM p-val", "NES"],
                                  key=lambda s: s.abs() if s.name == "NES" else s,
                                  ascending=[True, True, False], kind="stable").reset_index(drop=True)
    adata.uns["gsea"] = {
        "results": results,
        "running": running,
        "ranking": rnk,
        "params": {"rank_by": rank_by, "permutations": permutations, "seed": seed,
                   "threads": threads, "min_size": min_size, "max_size": max_size,
                   "weight": weight, "collections": {k: len(v) for k, v in gene_sets.items()},
                   "n_ranked_genes": len(rnk), "fdr": "within each collection"},
    }
    logger.info("GSEA: %d sets tested in %.1f s; %d with FDR < 0.05", len(results),
                time.perf_counter() - start, int((results["FDR q-val"] < 0.05).sum()))


def pathway_scores(
    adata: ad.AnnData,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    layer: str = "vst",
    score_key: str | None = "rad_score",
    min_size: int = 15,
    max_size: int = 500,
    threads: int = 1,
    seed: int = 0,
) -> None:
    """Per-sample ssGSEA scores (``gseapy.ssgsea``, rank-normalised, weight 0.25) of
    ``gene_sets`` on ``layers[layer]``, for the samples with values in that layer.

    Returns
    -------
    None
        Scores (gseapy's normalised ES) are stored in ``adata.obsm["pathway_scores"]`` (samples ×
        sets; NaN for samples not scored) and their Spearman correlation with ``obs[score_key]``
        (BH-adjusted) in ``adata.uns["pathway_scores"]["association"]``, with ``params``.
    """
    import gseapy

    if layer not in adata.layers:
        msg = f"pathway scores: layer {layer!r} not found (run differential_expression first)"
        raise UserError(msg)
    values = np.asarray(adata.layers[layer], dtype=float)
    rows = np.isfinite(values).any(axis=1)
    cols = np.isfinite(values[rows]).all(axis=0)
    if rows.sum() < 2 or cols.sum() < min_size:
        msg = f"pathway scores: layer {layer!r} has too few scored samples or genes"
        raise UserError(msg)
    matrix = pd.DataFrame(values[np.ix_(rows, cols)], index=adata.obs_names[rows],
                          columns=adata.var_names[cols])
    symbols = (adata.var["gene_name"].to_numpy()[cols] if "gene_name" in adata.var
               else adata.var_names[cols].to_numpy())
    matrix = collapse_symbols(matrix, symbols)
    sizes = {n: len(set(g) & set(matrix.columns)) for n, g in gene_sets.items()}
    testable = {n: list(g) for n, g in gene_sets.items() if min_size <= sizes[n] <= max_size}
    if not testable:
        msg = f"pathway scores: no set has between {min_size} and {max_size} measured genes"
        raise UserError(msg)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gseapy.ssgsea(data=matrix.T, gene_sets=testable, outdir=None,
                            sample_norm_method="rank", min_size=min_size, max_size=max_size,
                            permutation_num=0, threads=threads, seed=seed, no_plot=True,
                            verbose=False)
    wide = res.res2d.pivot(index="Name", columns="Term", values="NES").astype(float)
    wide = wide.reindex(index=matrix.index, columns=list(testable))
    scores = pd.DataFrame(np.nan, index=adata.obs_names, columns=wide.columns)
    scores.loc[wide.index] = wide.to_numpy()
    adata.obsm["pathway_scores"] = scores
    record: dict[str, Any] = {"params": {"layer": layer, "method": "ssGSEA (gseapy), rank "
                                         "normalisation, weight 0.25, normalised ES",
                                         "min_size": min_size, "max_size": max_size,
                                         "sizes": {n: sizes[n] for n in testable},
                                         "n_samples": int(rows.sum())}}
    if score_key is not None and score_key in adata.obs:
        score = adata.obs.loc[wide.index, score_key].to_numpy(dtype=float)
        ok = np.isfinite(score)
        assoc = rank_association(wide.to_numpy()[ok], score[ok])
        assoc.index = pd.Index(wide.columns, name="gene_set")
        record["association"] = assoc
        record["params"]["score_key"] = score_key
    adata.uns["pathway_scores"] = record
    logger.info("pathway scores: %d sets × %d samples in %.1f s", len(testable), int(rows.sum()),
                time.perf_counter() - start)
