"""Kaplan–Meier, log-rank and Cox models on lifelines, with the checks a clinical user needs:
negative or missing times, no events, a single group, constant or collinear covariates and
non-convergence each give a clear message instead of a numerical failure."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import UserError

__all__ = ["CoxFit", "check_survival", "cox", "fit_cox", "kaplan_meier", "logrank", "ph_test"]

DAYS_PER_MONTH = 365.25 / 12


def check_survival(df: pd.DataFrame, duration_col: str, event_col: str, *,
                   where: str = "survival data") -> pd.DataFrame:
    """Rows with a time and an event indicator, after checking them.

    Rows with a missing time or event are dropped (as every survival tool does), but not all of
    them and not more than half of them silently: what is left must have non-negative times,
    0/1 events and at least one event.

    Raises
    ------
    UserError
        On a missing column, a negative time, an event value other than 0/1, no rows left, or
        no event.
    """
    for col in (duration_col, event_col):
        if col not in df.columns:
            msg = f"{where}: no column {col!r} (columns: {list(df.columns)[:20]})"
            raise UserError(msg)
    times = pd.to_numeric(df[duration_col], errors="coerce")
    events = pd.to_numeric(df[event_col], errors="coerce")
    keep = times.notna() & events.notna()
    data = df.loc[keep].copy()
    data[duration_col] = times[keep].astype(float)
    data[event_col] = events[keep].astype(float)
    if data.empty:
        msg = f"{where}: no row has both {duration_col!r} and {event_col!r}"
        raise UserError(msg)
    if (~keep).sum() > len(df) / 2:
        msg = (f"{where}: {int((~keep).sum())} of {len(df)} rows lack {duration_col!r} or "
               f"{event_col!r} (missing or not a number); check the survival table's columns")
        raise UserError(msg)
    negative = data[duration_col] < 0
    if negative.any():
        row = data.index[negative.to_numpy()][0]
        msg = (f"{where}: {duration_col!r} is negative ({data.loc[row, duration_col]:g}) for "
               f"{row}; survival times must be ≥ 0 (days from diagnosis)")
        raise UserError(msg)
    bad = ~data[event_col].isin([0, 1])
    if bad.any():
        row = data.index[bad.to_numpy()][0]
        msg = (f"{where}: {event_col!r} is {data.loc[row, event_col]:g} for {row}; events must "
               f"be 1 (event) or 0 (censored)")
        raise UserError(msg)
    if data[event_col].sum() == 0:
        msg = (f"{where}: all {len(data)} observations are censored ({event_col!r} is 0 "
               f"everywhere); survival estimates and tests need at least one event")
        raise UserError(msg)
    data[event_col] = data[event_col].astype(int)
    return data


def _groups(data: pd.DataFrame, group_col: str, where: str) -> pd.Series:
    if group_col not in data.columns:
        msg = f"{where}: no grouping column {group_col!r}"
        raise UserError(msg)
    groups = data[group_col].dropna().astype(str)
    if groups.nunique() < 2:
        levels = sorted(groups.unique())
        msg = (f"{where}: {group_col!r} has a single group {levels} among the patients with "
               f"survival data; a comparison needs at least two")
        raise UserError(msg)
    return groups


def kaplan_meier(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str | None = None,
                 *, at_risk_times: Sequence[float] | None = None, alpha: float = 0.05,
                 where: str = "survival data") -> dict[str, pd.DataFrame]:
    """Kaplan–Meier curves (Greenwood–exponential CIs, lifelines' default), medians with CIs
    and the number at risk.

    Returns
    -------
    dict
        ``curves`` (``group, time, survival, ci_low, ci_high``), ``medians`` (``group, n,
        events, median, median_low, median_high``; NaN when not reached) and ``at_risk``
        (``group`` × ``at_risk_times``: patients still at risk at each time).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    data = check_survival(df, duration_col, event_col, where=where)
    if group_col is None:
        parts = {"all": data}
    else:
        groups = _groups(data, group_col, where)
        data = data.loc[groups.index]
        parts = {g: data[groups == g] for g in sorted(groups.unique())}
    if at_risk_times is None:
        at_risk_times = np.linspace(0, float(data[duration_col].max()), 6).round()
    curves, medians, at_risk = [], [], {}
    for name, part in parts.items():
        km = KaplanMeierFitter(alpha=alpha).fit(part[duration_col], part[event_col], label=str(name))
        ci = km.confidence_interval_survival_function_
        curves.append(pd.DataFrame({"group": name, "time": km.survival_function_.index.to_numpy(),
                                    "survival": km.survival_function_.iloc[:, 0].to_numpy(),
                                    "ci_low": ci.iloc[:, 0].to_numpy(),
                                    "ci_high": ci.iloc[:, 1].to_numpy()}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            med_ci = median_survival_times(km.confidence_interval_)
        median = km.median_survival_time_
        medians.append({"group": name, "n": len(part), "events": int(part[event_col].sum()),
                        "median": float(median) if np.isfinite(median) else np.nan,
                        "median_low": _finite(med_ci.iloc[0, 0]),
                        "median_high": _finite(med_ci.iloc[0, 1])})
        t = part[duration_col].to_numpy()
        at_risk[name] = [int((t >= s).sum()) for s in at_risk_times]
    risk = pd.DataFrame(at_risk, index=pd.Index(list(at_risk_times), name="time")).T
    risk.index.name = "group"
    return {"curves": pd.concat(curves, ignore_index=True), "medians": pd.DataFrame(medians),
            "at_risk": risk}


def _finite(value: float) -> float:
    value = float(value)
    return value if np.isfinite(value) else np.nan


def logrank(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str, *,
            where: str = "survival data") -> dict[str, float]:
    """Log-rank test across the groups (multi-group when more than two):
    ``{"statistic", "df", "p", "n_groups"}``."""
    from lifelines.statistics import multivariate_logrank_test

    data = check_survival(df, duration_col, event_col, where=where)
    groups = _groups(data, group_col, where)
    data = data.loc[groups.index]
    res = multivariate_logrank_test(data[duration_col], groups, data[event_col])
    return {"statistic": float(res.test_statistic), "df": int(res.degrees_of_freedom),
            "p": float(res.p_value), "n_groups": int(groups.nunique())}


def _design(data: pd.DataFrame, covariates: Sequence[str], where: str) -> pd.DataFrame:
    """Numeric design: numeric columns as they are, others one-hot (first level dropped)."""
    cols = []
    for cov in covariates:
        if cov not in data.columns:
            msg = f"{where}: no covariate column {cov!r}"
            raise UserError(msg)
        col = data[cov]
        if pd.api.types.is_bool_dtype(col):
            cols.append(col.astype(float).rename(cov))
        elif pd.api.types.is_numeric_dtype(col):
            cols.append(col.astype(float))
        else:
            levels = sorted(col.dropna().astype(str).unique())
            dummies = pd.get_dummies(col.astype("string"), prefix=cov, prefix_sep="=", dtype=float)
            cols.append(dummies.drop(columns=f"{cov}={levels[0]}", errors="ignore"))
    return pd.concat(cols, axis=1) if cols else pd.DataFrame(index=data.index)


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: the coefficient table, the lifelines model and the frame it saw."""

    table: pd.DataFrame
    model: Any
    frame: pd.DataFrame


def fit_cox(df: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str], *,
            ties: Literal["efron"] = "efron", strata: Sequence[str] | None = None,
            alpha: float = 0.05, where: str = "survival data") -> CoxFit:
    """:func:`cox`, also returning the lifelines model (for :func:`ph_test`)."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    if ties != "efron":
        msg = f"{where}: ties={ties!r} is not available; lifelines fits Cox models with Efron's method"
        raise UserError(msg)
    if not covariates:
        msg = f"{where}: a Cox model needs at least one covariate"
        raise UserError(msg)
    data = check_survival(df, duration_col, event_col, where=where)
    cols = list(dict.fromkeys([*covariates, *(strata or [])]))
    complete = data[cols].notna().all(axis=1)
    data = data.loc[complete]
    if data.empty or data[event_col].sum() == 0:
        msg = f"{where}: no events among the rows with every covariate ({', '.join(cols)}) present"
        raise UserError(msg)
    design = _design(data, covariates, where)
    constant = [c for c in design.columns if design[c].nunique() < 2]
    if constant:
        msg = (f"{where}: covariate {constant[0]!r} is constant among the {len(data)} patients "
               f"with complete data; remove it from the model")
        raise UserError(msg)
    x = design.to_numpy(dtype=float)
    rank = np.linalg.matrix_rank(np.column_stack([np.ones(len(x)), x]))
    if rank < x.shape[1] + 1:
        _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
        culprits = [design.columns[i] for i in np.flatnonzero(np.abs(vt[-1]) > 1e-6)]
        msg = (f"{where}: covariates {culprits} are collinear (one is a combination of the "
               f"others); drop one of them")
        raise UserError(msg)
    n_events = int(data[event_col].sum())
    if n_events < 2 * design.shape[1]:
        msg = (f"{where}: {n_events} events for {design.shape[1]} coefficients; a Cox model "
               f"needs several events per coefficient (10 is the usual rule); use fewer covariates")
        raise UserError(msg)
    frame = pd.concat([design, data[[duration_col, event_col]], data[list(strata or [])]], axis=1)
    cph = CoxPHFitter(alpha=alpha, strata=list(strata) if strata else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            cph.fit(frame, duration_col=duration_col, event_col=event_col)
        except ConvergenceError as exc:
            msg = (f"{where}: the Cox model did not converge ({str(exc).splitlines()[0]}); "
                   f"usual causes are a covariate that separates events perfectly or very "
                   f"different scales: standardise continuous covariates, merge sparse "
                   f"categories or drop the covariate")
            raise UserError(msg) from None
    concerns = sorted({str(w.message).split(".")[0] for w in caught
                       if issubclass(w.category, ConvergenceWarning)})
    s = cph.summary
    out = pd.DataFrame({
        "coef": s["coef"], "se": s["se(coef)"], "hr": s["exp(coef)"],
        "hr_low": s[f"exp(coef) lower {100 * (1 - alpha):g}%"],
        "hr_high": s[f"exp(coef) upper {100 * (1 - alpha):g}%"], "z": s["z"], "p": s["p"]})
    out.index.name = "covariate"
    out.attrs.update({"concordance": float(cph.concordance_index_), "n": len(frame),
                      "events": n_events, "log_likelihood": float(cph.log_likelihood_),
                      "ll_ratio_p": float(cph.log_likelihood_ratio_test().p_value),
                      "warnings": "; ".join(concerns)})
    return CoxFit(out, cph, frame)


def cox(df: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str], *,
        ties: Literal["efron"] = "efron", strata: Sequence[str] | None = None,
        alpha: float = 0.05, where: str = "survival data") -> pd.DataFrame:
    """Cox proportional-hazards model (lifelines ``CoxPHFitter``, Efron's method for ties).

    Rows with a missing covariate are left out. Text covariates are one-hot encoded with their
    first level (sorted) as the reference (``name=level`` columns).

    Returns
    -------
    DataFrame
        Indexed by covariate: ``coef, se, hr, hr_low, hr_high, z, p``. ``.attrs`` holds
        ``concordance``, ``n``, ``events``, ``log_likelihood``, ``ll_ratio_p`` and ``warnings``
        (lifelines' convergence concerns, e.g. near-separation; empty when none).

    Raises
    ------
    UserError
        For constant or collinear covariates (naming them), too few events for the number of
        covariates, or a fit that does not converge (with advice).
    """
    return fit_cox(df, duration_col, event_col, covariates, ties=ties, strata=strata,
                   alpha=alpha, where=where).table


def ph_test(fit: CoxFit, *, alpha: float = 0.05) -> pd.DataFrame:
    """Proportional-hazards check of a :func:`fit_cox` result: the scaled Schoenfeld residual
    test (lifelines ``proportional_hazard_test``, rank time transform, as R's ``cox.zph``), per
    covariate, with ``violated = p < alpha``."""
    from lifelines.statistics import proportional_hazard_test

    cph, frame = fit.model, fit.frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = proportional_hazard_test(cph, frame, time_transform="rank")
    table = res.summary[["test_statistic", "p"]].copy()
    table.index = [i[0] if isinstance(i, tuple) else i for i in table.index]
    table.index.name = "covariate"
    table["violated"] = table["p"] < alpha
    return table
