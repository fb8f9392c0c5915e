"""Gene-set enrichment between the rad-score groups (GSEA with phenotype permutation, or
preranked GSEA of the DE statistic, both with gseapy) and per-sample pathway scores (combined
z-scores, or ssGSEA) correlated with the rad-score.

Each collection (a GMT file, or the reference's cell-type markers) is tested on its own, so its
FDR is computed within the collection, as MSigDB results are usually reported; gseapy computes
one FDR over the union when given several libraries at once.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from ..errors import UserError
from .de import rank_association

__all__ = ["collapse_symbols", "enrichment", "pathway_scores", "ranking", "zscore_scores"]

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


def symbol_matrix(adata: ad.AnnData, values: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """Samples ``rows`` (in that order) × gene symbols of ``values``, keeping the genes with a
    value in every one of those samples (:func:`collapse_symbols` for shared symbols)."""
    cols = np.flatnonzero(np.isfinite(values[rows]).all(axis=0))
    matrix = pd.DataFrame(values[np.ix_(rows, cols)], index=adata.obs_names[rows],
                          columns=adata.var_names[cols])
    symbols = (adata.var["gene_name"].to_numpy()[cols] if "gene_name" in adata.var
               else adata.var_names[cols].to_numpy())
    return collapse_symbols(matrix, symbols)


def _phenotype_inputs(adata: ad.AnnData, layer: str) -> tuple[pd.DataFrame, list[str], str, str]:
    """Genes × samples (symbols, test-group samples first) and their labels, for
    ``gseapy.gsea`` with phenotype permutation; the groups are those of ``uns["de"]["params"]``."""
    params = adata.uns["de"].get("params", {})
    key, ref, test = params.get("group_key"), params.get("reference"), params.get("test")
    if key is None or key not in adata.obs:
        msg = "GSEA: the DE parameters name no group column present in .obs"
        raise UserError(msg)
    if layer not in adata.layers:
        msg = f"GSEA: layer {layer!r} not found (run differential_expression first)"
        raise UserError(msg)
    values = np.asarray(adata.layers[layer], dtype=float)
    labels = adata.obs[key].astype(str).to_numpy()
    rows = np.isfinite(values).any(axis=1) & np.isin(labels, [ref, test])
    order = np.concatenate([np.flatnonzero(rows & (labels == test)),
                            np.flatnonzero(rows & (labels == ref))])
    matrix = symbol_matrix(adata, values, order)
    for level in (test, ref):
        if (labels[order] == level).sum() < 3:
            msg = (f"GSEA: phenotype permutation needs at least 3 samples per group; "
                   f"{level!r} has {(labels[order] == level).sum()} (use permutation='gene_set')")
            raise UserError(msg)
    return matrix.T, labels[order].tolist(), str(test), str(ref)


def enrichment(
    adata: ad.AnnData,
    gene_sets: Mapping[str, Mapping[str, Sequence[str]]],
    *,
    permutation: Literal["phenotype", "gene_set"] = "phenotype",
    rank_by: str = "stat",
    layer: str = "vst",
    permutations: int = 1000,
    seed: int = 0,
    threads: int = 1,
    min_size: int = 15,
    max_size: int = 500,
    weight: float = 1.0,
) -> None:
    """Gene-set enrichment between the DE groups, per collection, with gseapy.

    Parameters
    ----------
    adata
        Bulk AnnData after :func:`~radiogenomics.expression.differential_expression`.
    gene_sets
        Collection name → {set name → gene symbols}.
    permutation
        ``phenotype`` (default): GSEA proper (``gseapy.gsea``) on ``layers[layer]`` (the VST),
        genes ranked by the two-group t statistic, significance by permuting the samples'
        group labels, which keeps the correlation between genes. ``gene_set``: preranked GSEA
        (``gseapy.prerank``) of the DE column ``rank_by`` (the Wald statistic), significance by
        permuting genes; co-expressed sets then reach small FDRs even with permuted labels (on
        the simulated demo world with ``rad_group`` permuted, 4 of 46 sets at FDR < 0.05
        against none with label permutation), so use it when only a ranking is available.
    permutations, seed, threads, min_size, max_size, weight
        Passed to gseapy.

    Returns
    -------
    None
        Results are stored in ``adata.uns["gsea"]``: ``results`` (one row per set with gseapy's
        columns ``Term ES NES NOM p-val FDR q-val FWER p-val Tag % Gene % Lead_genes`` plus
        ``collection`` and ``size``), ``running`` (set → DataFrame ``rank, gene, running_es,
        hit``), ``ranking`` (the ranked list) and ``params``. A positive NES means higher in
        the DE test group (``high`` rad-score).
    """
    import gseapy

    if "de" not in adata.uns or "results" not in adata.uns["de"]:
        msg = "GSEA: no DE results in adata.uns['de']; run differential_expression first"
        raise UserError(msg)
    if permutation not in ("phenotype", "gene_set"):
        msg = f"GSEA: permutation must be 'phenotype' or 'gene_set', got {permutation!r}"
        raise UserError(msg)
    _check_sets(gene_sets)
    if permutation == "gene_set":
        rnk = ranking(adata.uns["de"]["results"], rank_by)
        genes_measured = set(rnk.index)
    else:
        data, classes, test, ref = _phenotype_inputs(adata, layer)
        genes_measured = set(data.index)
    start = time.perf_counter()
    tables, running = [], {}
    ranked: pd.Series | None = None
    for coll, sets in gene_sets.items():
        sizes = {name: len(set(genes) & genes_measured) for name, genes in sets.items()}
        testable = {n: list(g) for n, g in sets.items() if min_size <= sizes[n] <= max_size}
        if not testable:
            logger.warning("GSEA: no set of collection %r has between %d and %d measured "
                           "genes; skipped", coll, min_size, max_size)
            continue
        common = {"gene_sets": testable, "permutation_num": permutations, "seed": seed,
                  "threads": threads, "min_size": min_size, "max_size": max_size,
                  "weight": weight, "outdir": None, "no_plot": True, "verbose": False}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if permutation == "gene_set":
                res = gseapy.prerank(rnk=rnk, **common)
            else:
                res = gseapy.gsea(data=data, cls=classes, permutation_type="phenotype",
                                  method="t_test", **common)
        if permutation == "gene_set":
            ranked = rnk
        else:
            ranked = pd.Series(np.asarray(res.ranking, dtype=float),
                               index=pd.Index(res.ranking.index, dtype=str), name="t_test")
        table = res.res2d[GSEA_COLUMNS].copy()
        table.insert(0, "collection", coll)
        table["size"] = table["Term"].map(sizes).astype(int)
        tables.append(table)
        genes = ranked.index.to_numpy()
        for term, rec in res.results.items():
            hit = np.zeros(len(genes), dtype=bool)
            hit[np.asarray(rec["hits"], dtype=int)] = True
            running[term] = pd.DataFrame({"rank": np.arange(1, len(genes) + 1), "gene": genes,
                                          "running_es": np.asarray(rec["RES"], dtype=float),
                                          "hit": hit})
    if not tables or ranked is None:
        msg = (f"GSEA: no gene set has between {min_size} and {max_size} genes among the "
               f"{len(genes_measured)} measured genes; check that the GMT files use gene symbols")
        raise UserError(msg)
    results = pd.concat(tables, ignore_index=True)
    for col in ("ES", "NES", "NOM p-val", "FDR q-val", "FWER p-val"):
        results[col] = results[col].astype(float)
    results = results.sort_values(["FDR q-val", "NOM p-val", "NES"],
                                  key=lambda s: -s.abs() if s.name == "NES" else s,
                                  kind="stable").reset_index(drop=True)
    params = {"permutation": permutation, "permutations": permutations, "seed": seed,
              "threads": threads, "min_size": min_size, "max_size": max_size, "weight": weight,
              "collections": {k: len(v) for k, v in gene_sets.items()},
              "n_ranked_genes": len(ranked), "fdr": "within each collection"}
    if permutation == "gene_set":
        params["rank_by"] = rank_by
    else:
        params.update({"rank_by": "t statistic of the VST expression", "layer": layer,
                       "test": test, "reference": ref})
    adata.uns["gsea"] = {"results": results, "running": running, "ranking": ranked,
                         "params": params}
    logger.info("GSEA (%s permutation): %d sets tested in %.1f s; %d with FDR < 0.05",
                permutation, len(results), time.perf_counter() - start,
                int((results["FDR q-val"] < 0.05).sum()))


def zscore_scores(matrix: pd.DataFrame, gene_sets: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Combined z-scores (Lee et al., PLoS Comput Biol 2008): each gene standardised across
    samples, a set's score is the sum of its members' z-scores over the square root of their
    number. Samples × sets."""
    x = matrix.to_numpy(dtype=float)
    sd = x.std(axis=0, ddof=1)
    z = np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)
    cols = {g: i for i, g in enumerate(matrix.columns)}
    out = {}
    for name, genes in gene_sets.items():
        idx = [cols[g] for g in dict.fromkeys(genes) if g in cols]
        out[name] = z[:, idx].sum(axis=1) / np.sqrt(len(idx))
    return pd.DataFrame(out, index=matrix.index)


def pathway_scores(
    adata: ad.AnnData,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    method: Literal["zscore", "ssgsea"] = "zscore",
    layer: str = "vst",
    score_key: str | None = "rad_score",
    min_size: int = 15,
    max_size: int = 500,
    threads: int = 1,
    seed: int = 0,
) -> None:
    """Per-sample scores of ``gene_sets`` on ``layers[layer]`` for the samples with values there.

    ``zscore`` (default): the combined z-score of :func:`zscore_scores`; a set's score depends
    only on its own genes. ``ssgsea``: gseapy's ssGSEA (rank-normalised, weight 0.25, normalised
    ES); its within-sample ranks make every set's score move when many other genes change (on
    the simulated world random decoy sets correlate with the rad-score at ρ ≈ −0.2), so read it
    against decoys.

    Returns
    -------
    None
        Scores are stored in ``adata.obsm["pathway_scores"]`` (samples × sets; NaN for samples
        not scored) and their Spearman correlation with ``obs[score_key]`` (BH-adjusted) in
        ``adata.uns["pathway_scores"]["association"]``, with ``params``.
    """
    if layer not in adata.layers:
        msg = f"pathway scores: layer {layer!r} not found (run differential_expression first)"
        raise UserError(msg)
    values = np.asarray(adata.layers[layer], dtype=float)
    rows = np.flatnonzero(np.isfinite(values).any(axis=1))
    matrix = symbol_matrix(adata, values, rows)
    if len(rows) < 2 or matrix.shape[1] < min_size:
        msg = f"pathway scores: layer {layer!r} has too few scored samples or genes"
        raise UserError(msg)
    sizes = {n: len(set(g) & set(matrix.columns)) for n, g in gene_sets.items()}
    testable = {n: list(g) for n, g in gene_sets.items() if min_size <= sizes[n] <= max_size}
    if not testable:
        msg = f"pathway scores: no set has between {min_size} and {max_size} measured genes"
        raise UserError(msg)
    start = time.perf_counter()
    if method == "zscore":
        wide = zscore_scores(matrix, testable)
        description = "combined z-score (Lee et al. 2008) of the VST expression"
    elif method == "ssgsea":
        import gseapy

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = gseapy.ssgsea(data=matrix.T, gene_sets=testable, outdir=None,
                                sample_norm_method="rank", min_size=min_size, max_size=max_size,
                                permutation_num=0, threads=threads, seed=seed, no_plot=True,
                                verbose=False)
        wide = res.res2d.pivot(index="Name", columns="Term", values="NES").astype(float)
        wide = wide.reindex(index=matrix.index, columns=list(testable))
        description = "ssGSEA (gseapy), rank normalisation, weight 0.25, normalised ES"
    else:
        msg = f"pathway scores: method must be 'zscore' or 'ssgsea', got {method!r}"
        raise UserError(msg)
    scores = pd.DataFrame(np.nan, index=adata.obs_names, columns=wide.columns)
    scores.loc[wide.index] = wide.to_numpy()
    adata.obsm["pathway_scores"] = scores
    record: dict[str, Any] = {"params": {"layer": layer, "method": method,
                                         "description": description,
                                         "min_size": min_size, "max_size": max_size,
                                         "sizes": {n: sizes[n] for n in testable},
                                         "n_samples": len(rows)}}
    if score_key is not None and score_key in adata.obs:
        score = adata.obs.loc[wide.index, score_key].to_numpy(dtype=float)
        ok = np.isfinite(score)
        assoc = rank_association(wide.to_numpy()[ok], score[ok])
        assoc.index = pd.Index(wide.columns, name="gene_set")
        record["association"] = assoc
        record["params"]["score_key"] = score_key
    adata.uns["pathway_scores"] = record
    logger.info("pathway scores (%s): %d sets × %d samples in %.1f s", method, len(testable),
                len(rows), time.perf_counter() - start)
