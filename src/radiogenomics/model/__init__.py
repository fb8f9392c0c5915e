"""The occult-LNM models: feature filters, learners, evaluation (DeLong, calibration, decision
curves), persistence and prediction."""

from __future__ import annotations

from .metrics import (
    auc_ci,
    calibration,
    decision_curve,
    delong_test,
    net_benefit,
    threshold_metrics,
    youden_threshold,
)
from .persist import load_study, save_study
from .study import Study, evaluate_study, fit_study

__all__ = ["Study", "auc_ci", "calibration", "decision_curve", "delong_test", "evaluate_study",
           "fit_study", "load_study", "net_benefit", "save_study", "threshold_metrics",
           "youden_threshold"]
