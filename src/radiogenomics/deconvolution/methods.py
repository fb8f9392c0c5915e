"""Deconvolution of bulk expression (linear scale) with a signature matrix: weighted NNLS in the
spirit of DWLS (default), plain NNLS, and a CIBERSORT-style ν-SVR baseline with its permutation
p-value; optional gene-wise platform-bias correction for any of them."""

from __future__ import annotations

import time
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
from scipy.optimize import nnls

from .._logging import logger, progress
from ..errors import UserError
from .signature import Signature

__all__ = ["align", "bulk_cpm", "cibersort", "deconvolve", "deconvolve_adata", "nnls_fractions",
           "wnnls_fractions"]

Method = Literal["wnnls", "nnls", "cibersort"]
NUS = (0.25, 0.5, 0.75)


def bulk_cpm(adata: ad.AnnData, layer: str = "counts") -> pd.DataFrame:
    """Samples × genes on the linear scale: CPM of ``layers["counts"]`` (or the TPM layer as
    it is)."""
    if layer not in adata.layers:
        msg = f"deconvolution: layer {layer!r} not found; layers: {sorted(adata.layers)}"
        raise UserError(msg)
    x = np.asarray(adata.layers[layer], dtype=float)
    if layer == "counts":
        total = x.sum(axis=1, keepdims=True)
        x = np.divide(x, total, out=np.zeros_like(x), where=total > 0) * 1e6
    return pd.DataFrame(x, index=adata.obs_names, columns=adata.var_names)


def align(mixture: pd.DataFrame, signature: Signature,
          gene_names: pd.Series | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Signature (genes × types) and mixture (samples × genes) rows for the genes they share.

    Bulk columns are matched to the signature's Ensembl IDs when they look like them, else to
    its gene symbols (``gene_names`` maps bulk columns to symbols)."""
    sig = signature.matrix
    ids = signature.gene_ids.reindex(sig.index).astype(str).str.split(".").str[0]
    cols = pd.Index(mixture.columns.astype(str)).str.split(".").str[0]
    if cols.str.startswith("ENS").mean() > 0.5 and ids.str.startswith("ENS").mean() > 0.5:
        bulk_keys, sig_keys = cols, ids.to_numpy()
    else:
        bulk_keys = (pd.Index(gene_names.reindex(mixture.columns).astype(str))
                     if gene_names is not None else pd.Index(mixture.columns.astype(str)))
        sig_keys = sig.index.astype(str).to_numpy()
    position = pd.Series(np.arange(len(bulk_keys)), index=bulk_keys)
    position = position[~position.index.duplicated()]
    shared = [i for i, k in enumerate(sig_keys) if k in position.index]
    if len(shared) < 2 * sig.shape[1]:
        msg = (f"deconvolution: only {len(shared)} of the signature's {len(sig)} genes are in the "
               f"bulk data; check that both use the same gene identifiers (Ensembl IDs or symbols)")
        raise UserError(msg)
    s = sig.to_numpy(dtype=float)[shared]
    m = mixture.to_numpy(dtype=float)[:, position.loc[np.asarray(sig_keys)[shared]].to_numpy()]
    return s, m, [str(g) for g in sig.index[shared]]


def nnls_fractions(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Non-negative least squares per sample: coefficients (samples × types)."""
    return np.vstack([nnls(s, b)[0] for b in m])


def _wnnls_one(s: np.ndarray, b: np.ndarray, dampening: float, max_iter: int,
               tol: float) -> np.ndarray:
    p = nnls(s, b)[0]
    for _ in range(max_iter):
        pred = s @ p
        floor = max(np.median(pred[pred > 0]) * 1e-3, 1e-12) if (pred > 0).any() else 1e-12
        w = 1.0 / np.maximum(pred, floor) ** 2
        w = np.minimum(w / w.min(), dampening)
        sw = np.sqrt(w)
        new = nnls(s * sw[:, None], b * sw)[0]
        done = np.abs(new - p).sum() <= tol * max(p.sum(), 1e-12)
        p = new
        if done:
            break
    return p


def wnnls_fractions(s: np.ndarray, m: np.ndarray, *, dampening: float = 1e6,
                    max_iter: int = 20, tol: float = 1e-4) -> np.ndarray:
    """Dampened weighted NNLS (DWLS-style): start from NNLS, weight each gene by the inverse
    square of its fitted expression (so that highly expressed genes do not dominate the fit),
    weights capped at ``dampening`` times the smallest so that no low-expressed gene does,
    iterate to convergence. Coefficients (samples × types).

    The default cap (10^6) was chosen on the simulated world: caps of 16, 64, 256, 10^4, 10^6
    gave mean per-type r 0.925, 0.931, 0.939, 0.975, 0.993 on its 500 bulk tumours and RMSE
    0.0078 → 0.0044 on held-out-donor pseudo-bulks."""
    return np.vstack([_wnnls_one(s, b, dampening, max_iter, tol) for b in m])


def _svr_weights(sz: np.ndarray, yz: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """CIBERSORT's CoreAlg: linear ν-SVR for each ν, negative weights zeroed, normalised; the ν
    with the lowest reconstruction RMSE wins. Returns (weights, rmse, r, nu)."""
    from sklearn.svm import NuSVR

    best: tuple[np.ndarray, float, float, float] | None = None
    for nu in NUS:
        model = NuSVR(kernel="linear", nu=nu, C=1.0, tol=1e-3).fit(sz, yz)
        w = np.asarray(model.coef_, dtype=float).ravel().copy()
        w[w < 0] = 0
        if w.sum() <= 0:
            continue
        w = w / w.sum()
        k = sz @ w
        rmse = float(np.sqrt(np.mean((k - yz) ** 2)))
        r = float(np.corrcoef(k, yz)[0, 1]) if k.std() > 0 else 0.0
        if best is None or rmse < best[1]:
            best = (w, rmse, r, nu)
    if best is None:
        return np.full(sz.shape[1], np.nan), np.nan, 0.0, np.nan
    return best


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std(ddof=1)
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


def cibersort(s: np.ndarray, m: np.ndarray, *, permutations: int = 0,
              seed: int = 0) -> pd.DataFrame:
    """CIBERSORT-style deconvolution (CIBERSORT.R v1.04 without quantile normalisation, as
    recommended for RNA-seq): the signature is z-scored over the whole matrix, each mixture over
    its genes; :func:`_svr_weights` per sample. With ``permutations``, a null distribution of
    the correlation is built once from random mixtures drawn from the mixture values, and each
    sample's p-value is the share of null correlations at least its own.

    Returns
    -------
    DataFrame
        Samples × (types, then ``nu``, ``rmse``, ``r``, ``p``), types as ``t0..``.
    """
    sz = (s - s.mean()) / s.std(ddof=1)
    rows = []
    for b in progress(m, description="CIBERSORT-style ν-SVR", total=len(m)):
        w, rmse, r, nu = _svr_weights(sz, _z(b))
        rows.append([*w, nu, rmse, r])
    out = pd.DataFrame(rows, columns=[f"t{i}" for i in range(s.shape[1])] + ["nu", "rmse", "r"])
    if permutations:
        rng = np.random.default_rng(seed)
        pool = m.ravel()
        null = np.array([_svr_weights(sz, _z(rng.choice(pool, size=s.shape[0], replace=False)))[2]
                         for _ in range(permutations)])
        out["p"] = [(null >= r).mean() for r in out["r"]]
    return out


def _fractions_from(coef: np.ndarray, content: np.ndarray) -> np.ndarray:
    coef = np.clip(coef, 0, None)
    cells = coef / content[None, :]
    total = cells.sum(axis=1, keepdims=True)
    return np.divide(cells, total, out=np.full_like(cells, np.nan), where=total > 0)


def _solve(method: Method, s: np.ndarray, m: np.ndarray, permutations: int,
           seed: int) -> tuple[np.ndarray, pd.DataFrame | None]:
    if method == "nnls":
        return nnls_fractions(s, m), None
    if method == "wnnls":
        return wnnls_fractions(s, m), None
    if method == "cibersort":
        table = cibersort(s, m, permutations=permutations, seed=seed)
        return table[[c for c in table.columns if c.startswith("t")]].to_numpy(), table
    msg = f"deconvolution: method must be 'wnnls', 'nnls' or 'cibersort', got {method!r}"
    raise UserError(msg)


def deconvolve(mixture: pd.DataFrame, signature: Signature, method: Method = "wnnls", *,
               correct_bias: bool = False, permutations: int = 0, seed: int = 0,
               cell_fractions: bool = True,
               gene_names: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fractions of ``signature``'s types in each sample of ``mixture`` (samples × genes,
    linear scale).

    ``correct_bias``: fit once, learn a gene-wise factor (median over samples of observed /
    reconstructed, on the log scale) between the signature's platform and the bulk's, rescale
    the signature's genes by it and fit again. ``cell_fractions``: divide RNA fractions by the
    types' mRNA content (otherwise RNA fractions are returned).

    Returns
    -------
    tuple of DataFrame
        Fractions (samples × types; non-negative, rows sum to 1) and per-sample diagnostics
        (``rmse`` of the reconstruction, ``r`` with the mixture; ``nu`` and ``p`` for
        ``cibersort``).
    """
    start = time.perf_counter()
    s, m, genes = align(mixture, signature, gene_names)
    coef, table = _solve(method, s, m, permutations, seed)
    if correct_bias:
        recon = np.clip(coef, 0, None) @ s.T
        ok = (recon > 0) & (m > 0)
        ratio = np.where(ok, np.log(np.where(ok, m, 1.0) / np.where(ok, recon, 1.0)), np.nan)
        factor = np.exp(np.nan_to_num(np.nanmedian(ratio, axis=0), nan=0.0))
        s = s * factor[:, None]
        coef, table = _solve(method, s, m, permutations, seed)
    content = (signature.mrna_content.reindex(signature.matrix.columns).to_numpy(dtype=float)
               if cell_fractions else np.ones(s.shape[1]))
    fractions = pd.DataFrame(_fractions_from(coef, content), index=mixture.index,
                             columns=signature.cell_types)
    recon = np.clip(coef, 0, None) @ s.T
    diag = pd.DataFrame({
        "rmse": np.sqrt(np.mean((recon - m) ** 2, axis=1)) / np.maximum(m.mean(axis=1), 1e-12),
        "r": [np.corrcoef(a, b)[0, 1] if a.std() > 0 else np.nan for a, b in zip(recon, m,
                                                                                  strict=True)],
    }, index=mixture.index)
    if table is not None:
        diag["nu"] = table["nu"].to_numpy()
        diag["svr_rmse"] = table["rmse"].to_numpy()
        diag["svr_r"] = table["r"].to_numpy()
        if "p" in table:
            diag["p"] = table["p"].to_numpy()
    logger.info("deconvolution (%s%s): %d samples × %d types on %d genes in %.2f s", method,
                ", bias-corrected" if correct_bias else "", len(fractions), s.shape[1],
                len(genes), time.perf_counter() - start)
    return fractions, diag


def deconvolve_adata(adata: ad.AnnData, signature: Signature, method: Method = "wnnls", *,
                     layer: str = "counts", correct_bias: bool = False, permutations: int = 0,
                     seed: int = 0) -> None:
    """:func:`deconvolve` on a bulk AnnData (CPM of ``layers[layer]``).

    Returns
    -------
    None
        Fractions in ``adata.obsm["cell_fractions"]`` (DataFrame), diagnostics and parameters
        in ``adata.uns["deconvolution"]``.
    """
    names = adata.var["gene_name"] if "gene_name" in adata.var else None
    fractions, diag = deconvolve(bulk_cpm(adata, layer), signature, method,
                                 correct_bias=correct_bias, permutations=permutations,
                                 seed=seed, gene_names=names)
    adata.obsm["cell_fractions"] = fractions
    adata.uns["deconvolution"] = {
        "diagnostics": diag,
        "params": {"method": method, "layer": layer, "correct_bias": correct_bias,
                   "permutations": permutations, "seed": seed,
                   "condition_number": signature.condition_number,
                   "n_signature_genes": int(signature.matrix.shape[0]),
                   "signature": signature.params},
    }
