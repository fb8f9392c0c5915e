"""Evaluation of a binary risk model: ROC AUC with DeLong's variance, DeLong's paired test,
threshold metrics with bootstrap intervals, calibration and decision curves.

DeLong's method (DeLong, DeLong & Clarke-Pearson, Biometrics 1988) in the fast mid-rank form of
Sun & Xu (IEEE Signal Processing Letters 2014): the AUC's variance comes from the placement
values of positives among negatives and vice versa; the 95% CI is ``auc ± 1.96·se``, clipped to
[0, 1]; two correlated AUCs on the same patients are compared with their covariance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import UserError

__all__ = ["DeLongResult", "auc_ci", "calibration", "decision_curve", "delong_test",
           "net_benefit", "threshold_metrics", "youden_threshold"]

Z95 = stats.norm.ppf(0.975)


def _check_binary(y: np.ndarray, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.isin(y, [0, 1]).all():
        msg = f"{where}: outcomes must be 0/1, got values {np.unique(y)[:5].tolist()}"
        raise UserError(msg)
    if y.sum() == 0 or y.sum() == len(y):
        msg = f"{where}: the AUC needs both outcomes; all {len(y)} patients are {int(y[0])}"
        raise UserError(msg)
    return y.astype(int)


def _midrank(x: np.ndarray) -> np.ndarray:
    """Ranks (1-based) with ties given their mean rank."""
    return stats.rankdata(x, method="average")


def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and structural components V10 (per positive), V01 (per negative), per score row."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    aucs, v10, v01 = [], [], []
    for k in range(scores.shape[0]):
        tx, ty = _midrank(pos[k]), _midrank(neg[k])
        tz = _midrank(np.concatenate([pos[k], neg[k]]))
        aucs.append((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((tz[:m] - tx) / n)
        v01.append(1.0 - (tz[m:] - ty) / m)
    return np.array(aucs), np.array(v10), np.array(v01)


def _delong_cov(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    aucs, v10, v01 = _placements(y, scores)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if scores.shape[0] > 1 else np.array([[np.var(v10[0], ddof=1)]])
    s01 = np.atleast_2d(np.cov(v01)) if scores.shape[0] > 1 else np.array([[np.var(v01[0], ddof=1)]])
    return aucs, s10 / m + s01 / n


@dataclass(frozen=True)
class DeLongResult:
    """One AUC with its DeLong standard error and 95% CI."""

    auc: float
    se: float
    low: float
    high: float


def auc_ci(y: np.ndarray, score: np.ndarray, where: str = "AUC") -> DeLongResult:
    """ROC AUC of ``score`` for outcome ``y`` with DeLong's standard error and 95% CI."""
    y = _check_binary(y, where)
    aucs, cov = _delong_cov(y, np.asarray(score, float)[None, :])
    auc, se = float(aucs[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    return DeLongResult(auc, se, max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se))


def delong_test(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> dict[str, float]:
    """DeLong's test of two correlated AUCs on the same patients (two-sided).

    Returns ``auc_a, auc_b, diff`` (a − b), ``se`` of the difference, ``z`` and ``p``.
    """
    y = _check_binary(y, "DeLong test")
    aucs, cov = _delong_cov(y, np.vstack([score_a, score_b]).astype(float))
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    if var <= 1e-15:
        return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff, "se": 0.0,
                "z": 0.0, "p": 1.0}
    z = diff / np.sqrt(var)
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff,
            "se": float(np.sqrt(var)), "z": float(z), "p": float(2 * stats.norm.sf(abs(z)))}


def youden_threshold(y: np.ndarray, prob: np.ndarray) -> float:
    """The probability threshold maximising sensitivity + specificity − 1 (Youden's J).

    Among equally good cut-offs the midpoint between neighbouring distinct scores is used, so
    the threshold does not sit exactly on a training patient's score.
    """
    y = _check_binary(y, "Youden threshold")
    values = np.unique(prob)
    cuts = np.concatenate([[values[0] - 1e-9], (values[1:] + values[:-1]) / 2,
                           [values[-1] + 1e-9]])
    pos, neg = prob[y == 1], prob[y == 0]
    sens = (pos[None, :] >= cuts[:, None]).mean(axis=1)
    spec = (neg[None, :] < cuts[:, None]).mean(axis=1)
    return float(cuts[int(np.argmax(sens + spec - 1))])


def _confusion(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = np.sum((pred == 1) & (y == 1))
    tn = np.sum((pred == 0) & (y == 0))
    fp = np.sum((pred == 1) & (y == 0))
    fn = np.sum((pred == 0) & (y == 1))

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else float("nan")

    return {"sens": ratio(tp, tp + fn), "spec": ratio(tn, tn + fp), "ppv": ratio(tp, tp + fp),
            "npv": ratio(tn, tn + fn), "accuracy": ratio(tp + tn, len(y))}


def threshold_metrics(y: np.ndarray, prob: np.ndarray, threshold: float, *, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, float]:
    """Sensitivity, specificity, PPV, NPV and accuracy at a fixed ``threshold`` (``prob >=
    threshold`` is positive), each with a percentile bootstrap 95% CI (``<name>_low``,
    ``<name>_high``; resampling patients, stratified by outcome)."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(prob) >= threshold).astype(int)
    point = _confusion(y, pred)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        boots.append(_confusion(y[idx], pred[idx]))
    table = pd.DataFrame(boots)
    out = dict(point)
    for name in point:
        values = table[name].dropna()  # e.g. PPV where nobody is called positive: undefined
        out[f"{name}_low"] = float(np.percentile(values, 2.5)) if len(values) else float("nan")
        out[f"{name}_high"] = float(np.percentile(values, 97.5)) if len(values) else float("nan")
    return out


def calibration(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> dict[str, object]:
    """Calibration intercept (calibration-in-the-large, slope fixed at 1) and slope (logistic
    regression of the outcome on the logit of ``prob``), the Brier score, and a binned curve
    (deciles of predicted risk: mean predicted vs observed, with counts)."""
    import statsmodels.api as sm

    y = np.asarray(y).astype(float)
    p = np.clip(np.asarray(prob, float), 1e-6, 1 - 1e-6)
    lp = np.log(p / (1 - p))
    intercept = slope = float("nan")
    try:
        fit_a = sm.GLM(y, np.ones_like(lp), family=sm.families.Binomial(), offset=lp).fit()
        intercept = float(fit_a.params[0])
        if np.ptp(lp) > 0:  # a constant prediction (a model without features) has no slope
            fit_b = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
            slope = float(fit_b.params[1])
    except (ValueError, np.linalg.LinAlgError):
        pass
    bins = pd.qcut(p, q=min(n_bins, len(np.unique(p))), duplicates="drop")
    curve = (pd.DataFrame({"bin": bins, "predicted": p, "observed": y})
             .groupby("bin", observed=True).agg(predicted=("predicted", "mean"),
                                                observed=("observed", "mean"),
                                                n=("observed", "size")).reset_index(drop=True))
    return {"intercept": intercept, "slope": slope, "brier": float(np.mean((p - y) ** 2)),
            "curve": curve}


def net_benefit(y: np.ndarray, prob: np.ndarray, pt: float) -> float:
    """Net benefit of treating patients with ``prob >= pt``: TP/n − FP/n · pt/(1 − pt)."""
    y = np.asarray(y).astype(int)
    treat = np.asarray(prob) >= pt
    n = len(y)
    tp, fp = np.sum(treat & (y == 1)), np.sum(treat & (y == 0))
    return float(tp / n - fp / n * pt / (1 - pt))


def decision_curve(y: np.ndarray, prob: np.ndarray,
                   thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """Net benefit of the model, treat-all and treat-none over threshold probabilities."""
    y = np.asarray(y).astype(int)
    pts = np.round(np.arange(0.01, 0.81, 0.01), 2) if thresholds is None else thresholds
    prevalence = y.mean()
    return pd.DataFrame({
        "threshold": pts,
        "net_benefit": [net_benefit(y, prob, t) for t in pts],
        "treat_all": [prevalence - (1 - prevalence) * t / (1 - t) for t in pts],
        "treat_none": 0.0,
    })
