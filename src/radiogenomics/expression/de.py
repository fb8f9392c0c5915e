"""Differential expression between radiomics groups with PyDESeq2, and the continuous association
of each gene with the rad-score.

The wrapper adds checks, a documented low-count filter and bookkeeping around PyDESeq2; it does
not change what PyDESeq2 computes (``results`` equals ``DeseqStats(...).results_df`` on the same
counts, design and settings).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._logging import logger
from ..errors import UserError

__all__ = ["check_counts", "differential_expression", "low_count_filter", "rank_association"]

SizeFactors = Literal["auto", "ratio", "poscounts", "iterative"]


def check_counts(counts: np.ndarray, where: str = "layers['counts']") -> np.ndarray:
    """Return ``counts`` as a dense integer array after checking it holds raw counts (integer
    input keeps its dtype, so that PyDESeq2 sees exactly what a direct call would).

    Raises
    ------
    UserError
        If any value is negative, non-finite or not a whole number (naming the first one).
    """
    arr = counts.toarray() if sp.issparse(counts) else np.asarray(counts)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            msg = (f"{where}: value {arr[i, j]!r} (sample {i}, gene {j}) is not a whole number; "
                   f"DE needs raw integer read counts (the STAR 'unstranded' column), not "
                   f"normalised values")
            raise UserError(msg)
    elif arr.dtype.kind not in "iu":
        msg = f"{where}: counts must be numeric, got dtype {arr.dtype}"
        raise UserError(msg)
    if (arr < 0).any():
        i, j = np.argwhere(arr < 0)[0]
        msg = f"{where}: negative count {arr[i, j]} (sample {i}, gene {j}); counts must be ≥ 0"
        raise UserError(msg)
    return arr if arr.dtype.kind in "iu" else arr.astype(np.int64)


def low_count_filter(counts: np.ndarray, *, min_count: int = 10,
                     min_samples: int) -> np.ndarray:
    """Genes to keep: at least ``min_count`` reads in at least ``min_samples`` samples.

    The rule of the DESeq2 vignette's pre-filter (``rowSums(counts >= 10) >= smallestGroupSize``).
    It removes genes no test could call and speeds the fit; it does not replace DESeq2's own
    independent filtering of the adjusted p-values.
    """
    return (counts >= min_count).sum(axis=0) >= min_samples


def _safe_name(name: str) -> str:
    safe = re.sub(r"\W", "_", name)
    return safe if safe and not safe[0].isdigit() else f"v_{safe}"


def _design_frame(obs: pd.DataFrame, group_key: str, reference: str, test: str | None,
                  covariates: Sequence[str]) -> tuple[pd.DataFrame, dict[str, str], str, np.ndarray]:
    """Metadata for PyDESeq2 (safe column names), the name map, the test level and the rows used."""
    for key in (group_key, *covariates):
        if key not in obs.columns:
            msg = (f"DE: column {key!r} is not in the sample table; available columns include "
                   f"{sorted(obs.columns)[:20]}")
            raise UserError(msg)
    groups = obs[group_key]
    levels = sorted({str(v) for v in groups.dropna()})
    if reference not in levels:
        msg = f"DE: reference level {reference!r} of {group_key!r} not found; levels: {levels}"
        raise UserError(msg)
    others = [lv for lv in levels if lv != reference]
    if test is None:
        if len(others) != 1:
            msg = (f"DE: {group_key!r} has levels {levels}; with more than two levels name the "
                   f"level to compare against {reference!r} (test=...)")
            raise UserError(msg)
        test = others[0]
    elif test not in others:
        msg = f"DE: test level {test!r} of {group_key!r} not found; levels: {levels}"
        raise UserError(msg)
    used = groups.notna().to_numpy() & groups.astype(str).isin([reference, test]).to_numpy()
    names = {key: _safe_name(key) for key in (*covariates, group_key)}
    if len(set(names.values())) != len(names):
        msg = f"DE: covariate names {list(names)} collide once made formula-safe"
        raise UserError(msg)
    meta = pd.DataFrame(index=obs.index)
    for key in covariates:
        col = obs[key]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            meta[names[key]] = col.astype(float)
        else:
            meta[names[key]] = col.astype("string")
        used &= meta[names[key]].notna().to_numpy()
    meta[names[group_key]] = groups.astype("string")
    meta = meta.loc[used].copy()
    for key in covariates:
        col = meta[names[key]]
        if col.nunique() < 2:
            msg = (f"DE: covariate {key!r} takes a single value ({col.iloc[0]!r}) among the "
                   f"{len(meta)} samples compared; remove it from de.covariates")
            raise UserError(msg)
        if col.dtype == "string":
            meta[names[key]] = col.astype(str)
    # the reference level first, so that the model's group coefficient is the contrast (as
    # DESeq2's relevel); lfc_shrink shrinks that coefficient
    meta[names[group_key]] = pd.Categorical(meta[names[group_key]].astype(str),
                                            categories=[reference, test])
    return meta, names, test, used


def rank_association(matrix: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Spearman correlation of every column of ``matrix`` with ``score``, BH-adjusted.

    Equal to :func:`scipy.stats.spearmanr` per column (average ranks for ties; a t
    approximation for the p-value), computed for all columns at once.
    """
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    n = len(score)
    if n < 4:
        msg = f"rank association needs at least 4 samples with a score, got {n}"
        raise UserError(msg)
    rx = stats.rankdata(matrix, axis=0)
    ry = stats.rankdata(score)
    rx = rx - rx.mean(axis=0)
    ry = ry - ry.mean()
    denom = np.sqrt((rx**2).sum(axis=0) * (ry**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denom > 0, (rx * ry[:, None]).sum(axis=0) / denom, np.nan)
        t = rho * np.sqrt((n - 2) / np.clip(1.0 - rho**2, 1e-300, None))
    p = 2 * stats.t.sf(np.abs(t), n - 2)
    padj = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        padj[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return pd.DataFrame({"rho": rho, "pvalue": p, "padj": padj})


def differential_expression(
    adata: ad.AnnData,
    group_key: str = "rad_group",
    reference: str = "low",
    *,
    test: str | None = None,
    covariates: Sequence[str] = (),
    layer: str = "counts",
    min_count: int = 10,
    min_samples: int | None = None,
    size_factors: SizeFactors = "auto",
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    shrink: bool = False,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    score_key: str | None = "rad_score",
    n_cpus: int | None = None,
    low_memory: bool = False,
) -> None:
    """PyDESeq2 Wald test of ``test`` against ``reference`` with design ``~ covariates + group``.

    Samples whose group or a covariate is missing are left out (counted in ``params``). Genes
    pass :func:`low_count_filter` first (``min_samples`` defaults to the smaller group's size).

    Parameters
    ----------
    adata
        Bulk AnnData with raw counts in ``layers[layer]`` and the groups in ``obs[group_key]``.
    group_key, reference, test
        The grouping column, its reference level, and the level compared with it (the other
        level when there are two).
    covariates
        ``obs`` columns adjusted for (numeric columns enter linearly, others as factors).
    size_factors
        PyDESeq2's ``size_factors_fit_type``; ``auto`` uses ``ratio`` unless every gene has a
        zero count, then ``poscounts`` (DESeq2's choice for sparse data).
    alpha, lfc_threshold, cooks_filter, independent_filter
        Passed to ``DeseqStats`` (``lfc_threshold`` > 0 tests ``|log2FC| > lfc_threshold``).
    shrink
        Add apeGLM-shrunk fold changes (``log2FoldChange`` becomes the shrunk value;
        ``log2FoldChange_mle`` keeps the MLE). P-values are unchanged.
    score_key
        ``obs`` column of a continuous score (the rad-score) to correlate with each gene's
        variance-stabilised expression (Spearman, BH); ``None`` to skip.
    n_cpus, low_memory
        Passed to PyDESeq2 (memory grows with ``n_cpus``).

    Returns
    -------
    None
        Results are stored in ``adata.uns["de"]``: ``results`` (DataFrame indexed by gene with
        PyDESeq2's ``baseMean log2FoldChange lfcSE stat pvalue padj`` plus ``gene_name``),
        ``association`` (``rho pvalue padj`` with the score, when requested) and ``params``.
        The variance-stabilised matrix (VST with the design's dispersions, DESeq2's
        ``blind=FALSE``) is stored in ``adata.layers["vst"]`` (NaN outside the samples and genes
        tested).
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    start = time.perf_counter()
    if layer not in adata.layers:
        msg = f"DE: layer {layer!r} not found; available layers: {sorted(adata.layers)}"
        raise UserError(msg)
    meta, names, test, used = _design_frame(adata.obs, group_key, reference, test, covariates)
    group_col = names[group_key]
    sizes = meta[group_col].value_counts()
    if len(sizes) < 2 or sizes.min() < 2:
        msg = (f"DE: need at least two samples in each of {reference!r} and {test!r}; "
               f"got {sizes.to_dict()} after dropping samples with missing values")
        raise UserError(msg)
    counts = check_counts(adata.layers[layer][used], where=f"layers[{layer!r}]")
    min_samples = int(sizes.min()) if min_samples is None else min_samples
    keep = low_count_filter(counts, min_count=min_count, min_samples=min_samples)
    if keep.sum() < 2:
        msg = (f"DE: only {int(keep.sum())} gene(s) have ≥ {min_count} reads in ≥ {min_samples} "
               f"samples; lower de.min_count or check that the counts are raw reads")
        raise UserError(msg)
    genes = adata.var_names[keep]
    # C order, as a direct call on the layer would see (PyDESeq2's optimiser is sensitive to
    # the memory layout at ~1e-4 for genes full of zeros; boolean column indexing gives F order)
    counts = np.ascontiguousarray(counts[:, keep])
    if size_factors == "auto":
        size_factors = "poscounts" if (counts == 0).any(axis=0).all() else "ratio"
    design = "~" + " + ".join([names[c] for c in covariates] + [group_col])
    logger.info("DE: %s vs %s (%d vs %d samples), %d of %d genes after the low-count filter, "
                "design %s", test, reference, int(sizes[test]), int(sizes[reference]),
                len(genes), adata.n_vars, design)
    frame = pd.DataFrame(counts, index=meta.index.astype(str), columns=genes.astype(str))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dds = DeseqDataSet(counts=frame, metadata=meta, design=design, refit_cooks=True,
                           size_factors_fit_type=size_factors, n_cpus=n_cpus, quiet=True,
                           low_memory=low_memory)
        dds.deseq2()
        stats = DeseqStats(dds, contrast=[group_col, test, reference], alpha=alpha,
                           cooks_filter=cooks_filter, independent_filter=independent_filter,
                           lfc_null=lfc_threshold,
                           alt_hypothesis="greaterAbs" if lfc_threshold > 0 else None,
                           n_cpus=n_cpus, quiet=True)
        stats.summary()
        results = stats.results_df.copy()
        if shrink:
            mle = results["log2FoldChange"].copy()
            stats.lfc_shrink(coeff=f"{group_col}[T.{test}]")
            results = stats.results_df.copy()
            results["log2FoldChange_mle"] = mle
        # the VST's gene-wise dispersions with the full design are the ones deseq2() just fitted
        # (same counts, same design); handing them over saves PyDESeq2 refitting them
        dds.var["vst_genewise_dispersions"] = dds.var["genewise_dispersions"]
        dds.vst(use_design=True)
    results.index.name = "gene_id"
    gene_names = adata.var["gene_name"] if "gene_name" in adata.var else pd.Series(
        adata.var_names, index=adata.var_names)
    results.insert(0, "gene_name", gene_names.reindex(results.index).astype(str).to_numpy())
    vst = np.asarray(dds.layers["vst_counts"], dtype=np.float32)
    full = np.full(adata.shape, np.nan, dtype=np.float32)
    full[np.ix_(used, keep)] = vst
    adata.layers["vst"] = full
    record: dict[str, Any] = {
        "results": results,
        "params": {
            "group_key": group_key, "reference": reference, "test": test,
            "covariates": list(covariates), "design": design, "layer": layer,
            "min_count": min_count, "min_samples": min_samples, "size_factors": size_factors,
            "alpha": alpha, "lfc_threshold": lfc_threshold, "shrink": shrink,
            "cooks_filter": cooks_filter, "independent_filter": independent_filter,
            "n_samples": int(used.sum()), "n_reference": int(sizes[reference]),
            "n_test": int(sizes[test]), "n_excluded_samples": int((~used).sum()),
            "n_genes_tested": len(genes), "n_genes_filtered": int((~keep).sum()),
            "vst": "parametric trend on the design's dispersions (blind=FALSE)",
        },
    }
    if score_key is not None:
        if score_key not in adata.obs:
            msg = f"DE: score column {score_key!r} is not in the sample table"
            raise UserError(msg)
        score = adata.obs[score_key].to_numpy(dtype=float)[used]
        ok = np.isfinite(score)
        assoc = rank_association(vst[ok], score[ok])
        assoc.index = genes
        assoc.index.name = "gene_id"
        assoc.insert(0, "gene_name", results["gene_name"].to_numpy())
        record["association"] = assoc
        record["params"]["score_key"] = score_key
    adata.uns["de"] = record
    n_sig = int((results["padj"] < alpha).sum())
    logger.info("DE: %d genes with padj < %g (%.1f s)", n_sig, alpha, time.perf_counter() - start)
