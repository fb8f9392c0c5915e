"""Honest validation of deconvolution on pseudo-bulk: the reference is split by donor, the
signature is built from the training donors only, and mixtures with known cell fractions are
summed from the raw counts of held-out donors' cells.

Scenarios: ``standard``; ``missing_type`` (one type absent from the signature but present in
the mixtures; scored on the other types, truth renormalised over them); ``platform_bias``
(every gene of every mixture scaled by one log-normal factor, sd ``bias_sd``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._logging import logger
from ..errors import UserError
from .markers import check_reference
from .methods import deconvolve
from .signature import build_signature

__all__ = ["lins_ccc", "mixture_fractions", "pseudobulk_benchmark"]

SCENARIOS = ("standard", "missing_type", "platform_bias")


def lins_ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    denom = x.var() + y.var() + (x.mean() - y.mean()) ** 2
    return float(2 * sxy / denom) if denom > 0 else np.nan


def mixture_fractions(types: Sequence[str], n: int, rng: np.random.Generator, *,
                      dominant: str, rare: Sequence[str]) -> pd.DataFrame:
    """Tumour-like cell fractions: ``dominant`` 30–80%, ``rare`` types ≤ 1% each, the rest
    Dirichlet-distributed over what remains."""
    types = list(types)
    out = np.zeros((n, len(types)))
    dom = types.index(dominant)
    rare_idx = [types.index(t) for t in rare if t in types and t != dominant]
    others = [i for i in range(len(types)) if i != dom and i not in rare_idx]
    out[:, dom] = rng.uniform(0.3, 0.8, size=n)
    for i in rare_idx:
        out[:, i] = rng.uniform(0.0, 0.01, size=n)
    rest = 1.0 - out.sum(axis=1)
    out[:, others] = rng.dirichlet(np.ones(len(others)), size=n) * rest[:, None]
    return pd.DataFrame(out, columns=types)


def _pseudobulks(counts: sp.csr_matrix, types: np.ndarray, fractions: pd.DataFrame,
                 cells_per_mixture: int, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    """Sum raw counts of sampled cells; the realised cell fractions are returned."""
    pools = {t: np.flatnonzero(types == t) for t in fractions.columns}
    rows, realised = [], []
    for _, frac in fractions.iterrows():
        n_cells = np.round(frac.to_numpy() * cells_per_mixture).astype(int)
        chosen = np.concatenate([rng.choice(pools[t], size=k, replace=True)
                                 for t, k in zip(fractions.columns, n_cells, strict=True) if k > 0])
        rows.append(np.asarray(counts[chosen].sum(axis=0)).ravel())
        realised.append(n_cells / n_cells.sum())
    return np.vstack(rows), pd.DataFrame(realised, columns=fractions.columns)


def _scores(est: pd.DataFrame, truth: pd.DataFrame, n_boot: int,
            rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for t in est.columns:
        x, y = est[t].to_numpy(), truth[t].to_numpy()
        r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else np.nan
        rmse = float(np.sqrt(np.mean((x - y) ** 2)))
        ccc = lins_ccc(x, y)
        boots = []
        for _ in range(n_boot):
            i = rng.integers(0, len(x), size=len(x))
            if x[i].std() > 0 and y[i].std() > 0:
                boots.append((np.corrcoef(x[i], y[i])[0, 1], np.sqrt(np.mean((x[i] - y[i]) ** 2)),
                              lins_ccc(x[i], y[i])))
        b = np.array(boots) if boots else np.full((1, 3), np.nan)
        lo, hi = np.nanpercentile(b, 2.5, axis=0), np.nanpercentile(b, 97.5, axis=0)
        rows.append({"cell_type": t, "r": r, "r_low": lo[0], "r_high": hi[0], "rmse": rmse,
                     "rmse_low": lo[1], "rmse_high": hi[1], "ccc": ccc, "ccc_low": lo[2],
                     "ccc_high": hi[2]})
    return pd.DataFrame(rows)


def pseudobulk_benchmark(reference: ad.AnnData, *, cell_type_key: str = "cell_type",
                         donor_key: str | None = "donor",
                         methods: Sequence[str] = ("wnnls", "nnls", "cibersort"),
                         scenarios: Sequence[str] = SCENARIOS, n_mixtures: int = 100,
                         cells_per_mixture: int = 500, bias_sd: float = 0.4,
                         n_markers: int = 100, min_log2fc: float = 1.0, n_boot: int = 200,
                         seed: int = 0,
                         dominant: str | None = None,
                         missing: str | None = None,
                         where: str = "reference") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every method on every scenario.

    Returns
    -------
    tuple of DataFrame
        Per (scenario, method, cell type): ``r, rmse, ccc`` with bootstrap 95% CIs; and per
        (scenario, method): ``mean_r, mean_rmse, mean_ccc, seconds``.
    """
    counts = check_reference(reference, cell_type_key, donor_key, where=where)
    rng = np.random.default_rng(seed)
    types_all = reference.obs[cell_type_key].astype(str).to_numpy()
    if donor_key is not None:
        donors = np.array(sorted(reference.obs[donor_key].astype(str).unique()))
        if len(donors) < 2:
            msg = "benchmark: the reference needs at least two donors to split by donor"
            raise UserError(msg)
        donor_of = reference.obs[donor_key].astype(str).to_numpy()
    else:  # no donors: two random halves of the cells stand in for them
        donors = np.array(["half1", "half2"])
        donor_of = np.where(rng.random(reference.n_obs) < 0.5, "half1", "half2")
    test_donors = rng.choice(donors, size=len(donors) // 2, replace=False)
    test = np.isin(donor_of, test_donors)
    train_ref = reference[~test].copy()
    if donor_key is None:
        train_ref.obs["_donor"] = "train"
    sig_donor_key = donor_key if donor_key is not None else "_donor"
    order = pd.Series(types_all).value_counts()
    types = list(order.index)
    dominant = dominant or ("malignant" if "malignant" in types else types[0])
    rare = [t for t in order.index[::-1] if t != dominant][:2]
    missing = missing or next(t for t in types if t not in (dominant, *rare))
    truth = mixture_fractions(types, n_mixtures, rng, dominant=dominant, rare=rare)
    mixed, realised = _pseudobulks(counts[test], types_all[test], truth, cells_per_mixture, rng)
    genes = reference.var_names.astype(str)
    logger.info("benchmark: signature from %d cells of donors %s; %d mixtures from %d held-out "
                "cells (donors %s)", int((~test).sum()), sorted(str(d) for d in set(donor_of[~test])),
                n_mixtures, int(test.sum()), sorted(str(d) for d in test_donors))
    signature = build_signature(train_ref, cell_type_key, sig_donor_key, n_markers=n_markers,
                                min_log2fc=min_log2fc)
    per_type, summary = [], []
    for scenario in scenarios:
        mix = mixed.astype(float)
        sig = signature
        target = realised
        if scenario == "platform_bias":
            mix = mix * np.exp(rng.normal(0, bias_sd, size=mix.shape[1]))[None, :]
        elif scenario == "missing_type":
            keep_ref = train_ref[train_ref.obs[cell_type_key].astype(str) != missing].copy()
            keep_ref.obs[cell_type_key] = keep_ref.obs[cell_type_key].astype(str)
            sig = build_signature(keep_ref, cell_type_key, sig_donor_key, n_markers=n_markers,
                                  min_log2fc=min_log2fc)
            target = realised[sig.cell_types]
            target = target.div(target.sum(axis=1), axis=0)
        elif scenario != "standard":
            msg = f"benchmark: unknown scenario {scenario!r}; choose from {SCENARIOS}"
            raise UserError(msg)
        cpm = mix / mix.sum(axis=1, keepdims=True) * 1e6
        frame = pd.DataFrame(cpm, columns=genes)
        for method in methods:
            start = time.perf_counter()
            est, _ = deconvolve(frame, sig, method)  # type: ignore[arg-type]
            seconds = time.perf_counter() - start
            scores = _scores(est[sig.cell_types], target[sig.cell_types], n_boot, rng)
            scores.insert(0, "method", method)
            scores.insert(0, "scenario", scenario)
            per_type.append(scores)
            summary.append({"scenario": scenario, "method": method,
                            "mean_r": float(scores["r"].mean()),
                            "mean_rmse": float(scores["rmse"].mean()),
                            "mean_ccc": float(scores["ccc"].mean()), "seconds": seconds,
                            "n_mixtures": n_mixtures,
                            "missing_type": missing if scenario == "missing_type" else ""})
            logger.info("benchmark %s / %s: mean r %.3f, RMSE %.4f (%.2f s)", scenario, method,
                        summary[-1]["mean_r"], summary[-1]["mean_rmse"], seconds)
    return pd.concat(per_type, ignore_index=True), pd.DataFrame(summary)
