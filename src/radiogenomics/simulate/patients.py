"""Patients of the imaging study: latent aggressiveness, clinical variables and occult LNM.

The latent aggressiveness ``z`` (standard normal) drives LNM through a logistic model together
with clinical variables, and shapes the tumour on CT. Cohorts are drawn from a large population
pool by class-stratified systematic sampling on the true probability: the prevalence is the
study's, and each cohort's class-conditional distribution of the true probability matches the
population's, so its Bayes-optimal AUC is the population's (not a lucky or unlucky draw).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._scales import PREVALENCE, WorldSize

#: coefficients of the true LNM model (log-odds)
LNM_COEF = {"latent": 2.0, "t_stage": 0.30, "grade": 0.30, "smoker": 0.25, "subsite_oral": 0.30}
SUBSITES = ("oral cavity", "oropharynx", "larynx", "hypopharynx")
SUBSITE_P = (0.40, 0.20, 0.30, 0.10)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def clinical_from_latent(z: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Clinical variables, each carrying part of the latent signal."""
    n = len(z)
    t_cont = 0.55 * z + rng.normal(size=n)
    t_stage = 1 + np.searchsorted(np.quantile(t_cont, [0.25, 0.60, 0.85]), t_cont)
    g_cont = 0.40 * z + rng.normal(size=n)
    grade = 1 + np.searchsorted(np.quantile(g_cont, [0.20, 0.75]), g_cont)
    age = np.clip(rng.normal(61, 10, size=n), 28, 89).round().astype(int)
    sex = np.where(rng.random(n) < 0.75, "male", "female")
    smoker = (rng.random(n) < 0.65).astype(int)
    subsite = rng.choice(SUBSITES, size=n, p=SUBSITE_P)
    return pd.DataFrame(
        {"age": age, "sex": sex, "smoker": smoker, "subsite": subsite,
         "t_stage": t_stage.astype(int), "grade": grade.astype(int)}
    )


def lnm_probability(z: np.ndarray, clinical: pd.DataFrame, intercept: float) -> np.ndarray:
    """The true probability of occult LNM given the latent value and clinical variables."""
    lp = (
        intercept
        + LNM_COEF["latent"] * z
        + LNM_COEF["t_stage"] * (clinical["t_stage"].to_numpy() - 2.3)
        + LNM_COEF["grade"] * (clinical["grade"].to_numpy() - 2.0)
        + LNM_COEF["smoker"] * clinical["smoker"].to_numpy()
        + LNM_COEF["subsite_oral"] * (clinical["subsite"].to_numpy() == "oral cavity")
    )
    return _sigmoid(lp)


def _systematic(idx: np.ndarray, p: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of ``idx`` spread evenly over the order of ``p`` (random start)."""
    order = idx[np.argsort(p[idx], kind="stable")]
    step = len(order) / k
    picks = (rng.random() * step + step * np.arange(k)).astype(int)
    return order[np.minimum(picks, len(order) - 1)]


def draw_imaging_patients(size: WorldSize, rng: np.random.Generator) -> pd.DataFrame:
    """The imaging study's patients (train, internal, external) with their truth.

    Returns one row per patient: ``patient_id``, ``cohort``, ``center``, clinical columns,
    ``latent``, ``lnm_probability`` and ``lnm``.
    """
    pool_n = 40000
    z = rng.normal(size=pool_n)
    clinical = clinical_from_latent(z, rng)
    # intercept calibrated so the population prevalence is the study's 30%
    lo, hi = -6.0, 2.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if lnm_probability(z, clinical, mid).mean() < PREVALENCE["train"]:
            lo = mid
        else:
            hi = mid
    p = lnm_probability(z, clinical, (lo + hi) / 2)
    y = (rng.random(pool_n) < p).astype(int)
    available = np.ones(pool_n, dtype=bool)
    plan = [("train", "A", size.n_train), ("internal", "A", size.n_internal),
            ("external", "B", size.n_external_per_centre),
            ("external", "C", size.n_external_per_centre)]
    frames = []
    for cohort, center, n in plan:
        n_pos = round(n * PREVALENCE[cohort])
        pos = _systematic(np.flatnonzero(available & (y == 1)), p, n_pos, rng)
        neg = _systematic(np.flatnonzero(available & (y == 0)), p, n - n_pos, rng)
        chosen = rng.permutation(np.concatenate([pos, neg]))
        available[chosen] = False
        part = clinical.iloc[chosen].reset_index(drop=True)
        part.insert(0, "center", center)
        part.insert(0, "cohort", cohort)
        part["latent"] = z[chosen]
        part["lnm_probability"] = p[chosen]
        part["lnm"] = y[chosen]
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    counters: dict[str, int] = {}
    ids = []
    for center in out["center"]:
        counters[center] = counters.get(center, 0) + 1
        ids.append(f"HN{center}-{counters[center]:04d}")
    out.insert(0, "patient_id", ids)
    out.attrs["lnm_intercept"] = (lo + hi) / 2
    return out
