"""Fit the study's models on the training cohort and evaluate them on every cohort.

:func:`fit_study` sees only the training rows of what it is given (the others are dropped before
anything is learned), so the fitted models are the same whether or not the test cohorts are
present; :func:`evaluate_study` applies them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from .._logging import logger
from ..errors import UserError
from .learners import CombinedModel, clinical_model, other_learners, radscore_model
from .metrics import (
    auc_ci,
    calibration,
    decision_curve,
    delong_test,
    threshold_metrics,
    youden_threshold,
)

__all__ = ["Study", "design_matrix", "evaluate_study", "fit_study", "roc_points"]

MODEL_ORDER = ("radscore", "clinical", "combined", "svm", "random_forest")


@dataclass
class Study:
    """The fitted models with what they were fitted on.

    Attributes
    ----------
    models
        Name → fitted estimator (``radscore``, ``clinical``, ``combined`` and other learners).
    thresholds
        Name → probability threshold (Youden's J on the training out-of-fold predictions).
    oof
        Training patients × models: out-of-fold probabilities.
    features, numeric, categorical
        The radiomics features offered to the models and the clinical columns.
    best
        The non-clinical model with the highest out-of-fold training AUC.
    """

    models: dict[str, Any]
    thresholds: dict[str, float]
    oof: pd.DataFrame
    features: list[str]
    numeric: list[str]
    categorical: list[str]
    best: str
    params: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Probabilities of every model, plus ``rad_score`` (the rad-score's linear predictor)."""
        out = pd.DataFrame(index=X.index)
        out["rad_score"] = self.models["radscore"].decision_function(X)
        for name, model in self.models.items():
            out[f"{name}_prob"] = model.predict_proba(X)[:, 1]
        return out


def design_matrix(features: pd.DataFrame, obs: pd.DataFrame,
                  clinical: Sequence[str]) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Features and clinical columns side by side; clinical columns split into numeric and
    categorical (text) ones."""
    missing = [c for c in clinical if c not in obs.columns]
    if missing:
        msg = (f"clinical column(s) {missing} are not in the case table; available: "
               f"{[c for c in obs.columns if c not in ('image', 'mask')][:15]}")
        raise UserError(msg)
    clin = obs[list(clinical)].copy()
    numeric = [c for c in clinical if pd.api.types.is_numeric_dtype(clin[c])]
    categorical = [c for c in clinical if c not in numeric]
    for c in categorical:
        clin[c] = clin[c].astype(object).where(clin[c].notna(), np.nan)
    X = pd.concat([features, clin], axis=1)  # noqa: N806
    return X, numeric, categorical


def fit_study(X: pd.DataFrame, y: pd.Series, cohort: pd.Series, *, features: Sequence[str],  # noqa: N803
              numeric: Sequence[str], categorical: Sequence[str], train_cohort: str = "train",
              folds: int = 5, redundancy: float = 0.9, learners: Sequence[str] = ("svm",
              "random_forest"), seed: int = 0, n_jobs: int = 1) -> Study:
    """Fit every model on the ``train_cohort`` rows only, with out-of-fold predictions.

    Returns
    -------
    Study
        Fitted models, Youden thresholds on out-of-fold predictions, and the training OOF table.
    """
    train = (cohort == train_cohort).to_numpy()
    if train.sum() < 2 * folds:
        msg = f"cohort '{train_cohort}' has {int(train.sum())} patients; the models need at least {2 * folds}"
        raise UserError(msg)
    Xtr = X.loc[train].copy()  # noqa: N806
    ytr = y.loc[train].to_numpy()
    if not np.isin(ytr, [0, 1]).all() or ytr.min() == ytr.max():
        msg = f"the '{train_cohort}' cohort needs 0/1 outcomes of both kinds in column 'lnm'"
        raise UserError(msg)
    ytr = ytr.astype(int)
    rad = radscore_model(features, redundancy=redundancy, seed=seed)
    models: dict[str, Any] = {
        "radscore": rad,
        "clinical": clinical_model(numeric, categorical),
        "combined": CombinedModel(rad, numeric, categorical, folds=folds, seed=seed),
    }
    extra = other_learners(features, redundancy=redundancy, seed=seed)
    models.update({name: extra[name] for name in learners})
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    oof = pd.DataFrame(index=Xtr.index)
    fitted: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    for name, model in models.items():
        logger.info("model %s: %d-fold out-of-fold predictions on %d training patients", name,
                    folds, len(ytr))
        oof[name] = cross_val_predict(clone(model), Xtr, ytr, cv=cv, method="predict_proba",
                                      n_jobs=n_jobs)[:, 1]
        fitted[name] = clone(model).fit(Xtr, ytr)
        thresholds[name] = youden_threshold(ytr, oof[name].to_numpy())
    aucs = {n: auc_ci(ytr, oof[n].to_numpy()).auc for n in fitted if n != "clinical"}
    best = max(aucs, key=aucs.__getitem__)
    logger.info("training out-of-fold AUC: %s; best: %s",
                ", ".join(f"{n} {a:.3f}" for n, a in aucs.items()), best)
    return Study(models=fitted, thresholds=thresholds, oof=oof, features=list(features),
                 numeric=list(numeric), categorical=list(categorical), best=best,
                 params={"train_cohort": train_cohort, "folds": folds, "redundancy": redundancy,
                         "learners": list(learners), "seed": seed})


def roc_points(y: np.ndarray, prob: np.ndarray) -> pd.DataFrame:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, prob)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def _cohorts(obs: pd.DataFrame, train_cohort: str) -> list[tuple[str, np.ndarray]]:
    """Evaluation groups: the training cohort (OOF), each other labelled cohort, and each centre
    of a cohort with several centres."""
    out = []
    labelled = obs["lnm"].notna().to_numpy()
    for name in [train_cohort, *[c for c in pd.unique(obs["cohort"]) if c != train_cohort]]:
        rows = (obs["cohort"] == name).to_numpy() & labelled
        if rows.sum() == 0:
            continue
        out.append((name, rows))
        if name != train_cohort and "center" in obs and obs.loc[rows, "center"].nunique() > 1:
            for center in sorted(obs.loc[rows, "center"].unique()):
                out.append((f"{name}:{center}", rows & (obs["center"] == center).to_numpy()))
    return out


def evaluate_study(study: Study, X: pd.DataFrame, obs: pd.DataFrame, *,  # noqa: N803
                   n_boot: int = 1000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Metrics, DeLong comparisons, calibration, decision and ROC curves per cohort and model.

    Training rows are scored with their out-of-fold probabilities, every other cohort with the
    models fitted on all training patients.

    Returns
    -------
    dict
        ``predictions`` (every patient), ``metrics`` (the ``metrics.tsv`` columns), ``delong``,
        ``calibration``, ``dca`` and ``roc`` tables.
    """
    train_cohort = study.params["train_cohort"]
    pred = study.predict(X)
    names = list(study.models)
    is_train = (obs["cohort"] == train_cohort).to_numpy()
    for name in names:
        pred.loc[is_train, f"{name}_prob"] = study.oof.loc[pred.index[is_train], name].to_numpy()
    pred.insert(0, "cohort", obs["cohort"].to_numpy())
    pred.insert(1, "center", obs["center"].to_numpy() if "center" in obs else "")
    pred.insert(2, "lnm", obs["lnm"].to_numpy())
    metrics, delong, calib, dca, roc = [], [], [], [], []
    for cohort, rows in _cohorts(obs, train_cohort):
        y = obs["lnm"].to_numpy()[rows].astype(int)
        if y.min() == y.max():
            logger.warning("cohort %s has one outcome only; no AUC", cohort)
            continue
        probs = {n: pred[f"{n}_prob"].to_numpy()[rows] for n in names}
        for n in names:
            ci = auc_ci(y, probs[n])
            cal = calibration(y, probs[n])
            thr = threshold_metrics(y, probs[n], study.thresholds[n], n_boot=n_boot, seed=seed)
            metrics.append({"cohort": cohort, "model": n, "n": int(len(y)), "n_pos": int(y.sum()),
                            "auc": ci.auc, "auc_low": ci.low, "auc_high": ci.high,
                            "brier": cal["brier"], "calib_intercept": cal["intercept"],
                            "calib_slope": cal["slope"], "threshold": study.thresholds[n], **thr})
            calib.append(cal["curve"].assign(cohort=cohort, model=n))
            dca.append(decision_curve(y, probs[n]).assign(cohort=cohort, model=n))
            roc.append(roc_points(y, probs[n]).assign(cohort=cohort, model=n))
        pairs = [(n, "clinical") for n in names if n != "clinical"] + [("radscore", "combined")]
        for a, b in pairs:
            delong.append({"cohort": cohort, "model_a": a, "model_b": b,
                           **delong_test(y, probs[a], probs[b])})
    metric_cols = ["cohort", "model", "n", "n_pos", "auc", "auc_low", "auc_high", "brier",
                   "calib_intercept", "calib_slope", "sens", "spec", "ppv", "npv"]
    table = pd.DataFrame(metrics)
    table = table[metric_cols + [c for c in table.columns if c not in metric_cols]]
    return {"predictions": pred, "metrics": table, "delong": pd.DataFrame(delong),
            "calibration": pd.concat(calib, ignore_index=True),
            "dca": pd.concat(dca, ignore_index=True), "roc": pd.concat(roc, ignore_index=True)}
