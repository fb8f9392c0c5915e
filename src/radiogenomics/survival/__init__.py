"""Survival by radiomics group, immune context and outcome (lifelines): Kaplan–Meier with
numbers at risk, log-rank tests, Cox models with a proportional-hazards check, and optimal
cut-points with a corrected p-value."""

from __future__ import annotations

from .core import CoxFit, check_survival, cox, fit_cox, kaplan_meier, logrank, ph_test
from .cutpoint import (lausen_schumacher_p, logrank_statistics, max_stat_cutpoint,
                       null_rejection_rates)

__all__ = ["CoxFit", "check_survival", "cox", "fit_cox", "kaplan_meier", "lausen_schumacher_p",
           "logrank", "logrank_statistics", "max_stat_cutpoint", "null_rejection_rates",
           "ph_test"]
