"""Survival: Cox models against R and lifelines, Kaplan–Meier and log-rank against lifelines,
planted hazard ratios recovered, the corrected cut-point p-value calibrated under the null, and
clear errors for bad survival data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radiogenomics.errors import UserError
from radiogenomics.survival import (
    cox,
    fit_cox,
    kaplan_meier,
    lausen_schumacher_p,
    logrank,
    logrank_statistics,
    max_stat_cutpoint,
    null_rejection_rates,
    ph_test,
)


@pytest.fixture(scope="module")
def larynx() -> pd.DataFrame:
    from lifelines.datasets import load_larynx

    d = load_larynx()
    d["stage"] = np.select([d["Stage_II"] == 1, d["Stage_III"] == 1, d["Stage_IV"] == 1],
                           ["II", "III", "IV"], "I")
    return d


def test_cox_matches_r_coxph_efron_on_larynx(larynx: pd.DataFrame) -> None:
    """R: ``coxph(Surv(time, delta) ~ age + factor(stage), data = KMsurv::larynx)`` (Efron ties,
    R's default) prints coef (se): age 0.01903 (0.01426), stage 2 0.14004 (0.46249), stage 3
    0.64238 (0.35611), stage 4 1.70598 (0.42191); concordance 0.682; likelihood ratio test 18.31
    on 4 df. (Klein & Moeschberger's textbook table, 0.0190 / 0.1386 / 0.6383 / 1.6931, uses
    Breslow's ties and differs in the third decimal.)"""
    res = cox(larynx, "time", "death", ["age", "stage"])
    r = {"age": (0.01903, 0.01426), "stage=II": (0.14004, 0.46249),
         "stage=III": (0.64238, 0.35611), "stage=IV": (1.70598, 0.42191)}
    for cov, (coef, se) in r.items():
        assert res.loc[cov, "coef"] == pytest.approx(coef, abs=5e-4)
        assert res.loc[cov, "se"] == pytest.approx(se, abs=5e-4)
    assert res.attrs["concordance"] == pytest.approx(0.682, abs=5e-4)
    assert res.loc["stage=IV", "hr"] == pytest.approx(5.507, abs=5e-4)
    assert res.loc["stage=IV", "hr_low"] == pytest.approx(2.4086, abs=5e-4)
    from scipy import stats

    assert res.attrs["ll_ratio_p"] == pytest.approx(stats.chi2.sf(18.31, 4), rel=0.01)


def test_cox_equals_lifelines_called_directly(larynx: pd.DataFrame) -> None:
    from lifelines import CoxPHFitter

    ours = cox(larynx, "time", "death", ["age", "Stage_II", "Stage_III", "Stage_IV"])
    direct = CoxPHFitter().fit(larynx[["time", "death", "age", "Stage_II", "Stage_III",
                                       "Stage_IV"]], "time", "death")
    np.testing.assert_allclose(ours["coef"], direct.params_, rtol=1e-10)
    np.testing.assert_allclose(ours["p"], direct.summary["p"], rtol=1e-10)
    np.testing.assert_allclose(ours["hr_high"], direct.summary["exp(coef) upper 95%"], rtol=1e-10)
    assert ours.attrs["concordance"] == pytest.approx(direct.concordance_index_)


def exponential_data(n: int, log_hr: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=n)
    age = rng.normal(60, 10, size=n)
    t = rng.exponential(1.0 / (0.1 * np.exp(log_hr * x + 0.02 * (age - 60))))
    c = rng.uniform(1, 30, size=n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int),
                         "group": np.where(x == 1, "b", "a"), "age": age})


def test_planted_hazard_ratio_inside_ci_and_ph_holds() -> None:
    data = exponential_data(600, np.log(2.0), seed=1)
    fit = fit_cox(data, "time", "event", ["group", "age"])
    row = fit.table.loc["group=b"]
    assert row["hr_low"] <= 2.0 <= row["hr_high"]
    assert fit.table.loc["age", "hr_low"] <= np.exp(0.02) <= fit.table.loc["age", "hr_high"]
    assert not ph_test(fit)["violated"].any()


def test_ph_violation_flagged() -> None:
    rng = np.random.default_rng(3)
    n = 600
    x = rng.integers(0, 2, size=n)
    # group b dies early with Weibull shape 0.5, group a late with shape 3: crossing hazards
    t = np.where(x == 1, rng.weibull(0.5, n) * 5, rng.weibull(3.0, n) * 5)
    data = pd.DataFrame({"time": t, "event": 1, "x": x})
    fit = fit_cox(data, "time", "event", ["x"])
    assert ph_test(fit).loc["x", "violated"]


def test_kaplan_meier_and_logrank_equal_lifelines(larynx: pd.DataFrame) -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    km = kaplan_meier(larynx, "time", "death", "stage", at_risk_times=[0, 2, 4])
    part = larynx[larynx["stage"] == "IV"]
    direct = KaplanMeierFitter().fit(part["time"], part["death"])
    curve = km["curves"][km["curves"]["group"] == "IV"]
    np.testing.assert_allclose(curve["survival"], direct.survival_function_.iloc[:, 0])
    np.testing.assert_allclose(curve["ci_low"], direct.confidence_interval_.iloc[:, 0])
    med = km["medians"].set_index("group")
    assert med.loc["IV", "median"] == pytest.approx(direct.median_survival_time_)
    assert med.loc["IV", "n"] == 13 and med.loc["IV", "events"] == int(part["death"].sum())
    assert km["at_risk"].loc["IV", 2.0] == int((part["time"] >= 2).sum())
    test = logrank(larynx, "time", "death", "stage")
    ref = multivariate_logrank_test(larynx["time"], larynx["stage"], larynx["death"])
    assert test["statistic"] == pytest.approx(ref.test_statistic)
    assert test["df"] == 3 and test["p"] == pytest.approx(ref.p_value)


def test_km_figure_shows_every_at_risk_count_and_ticks_over_the_whole_follow_up(
        larynx: pd.DataFrame) -> None:
    from radiogenomics.survival.figures import km_figure

    km = kaplan_meier(larynx, "time", "death", "stage", at_risk_times=[0, 2, 4])
    fig = km_figure(km["curves"], km["at_risk"], title="larynx")
    rows = [t for t in fig.data if t.mode == "text"]
    assert len(rows) == 4 and all(t.cliponaxis is False for t in rows)
    for t in rows:  # the numbers drawn are lifelines' counts at risk, at the configured times
        part = larynx[larynx["stage"].astype(str) == t.y[0]]
        assert list(t.text) == [str(int((part["time"] >= s).sum())) for s in (0, 2, 4)]
    # larynx follow-up reaches 10.7 years: ticks continue every 2 years past the table
    assert list(fig.layout.xaxis2.tickvals) == [0, 2, 4, 6, 8, 10]
    assert fig.layout.yaxis2.range[0] < -0.5 and fig.layout.yaxis2.range[1] > 3.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(time=d["time"] - 100), "negative"),
        (lambda d: d.assign(death=0), "all 90 observations are censored"),
        (lambda d: d.assign(death=d["death"] * 2), "events must be 1"),
    ],
)
def test_bad_survival_data_named(larynx: pd.DataFrame, change, message: str) -> None:
    with pytest.raises(UserError, match=message):
        cox(change(larynx), "time", "death", ["age"])
    with pytest.raises(UserError, match=message):
        kaplan_meier(change(larynx), "time", "death")


def test_single_group_constant_and_collinear_covariates_refused(larynx: pd.DataFrame) -> None:
    with pytest.raises(UserError, match="single group"):
        logrank(larynx.assign(g="x"), "time", "death", "g")
    with pytest.raises(UserError, match="constant"):
        cox(larynx.assign(c=1.0), "time", "death", ["age", "c"])
    with pytest.raises(UserError, match="collinear") as err:
        cox(larynx.assign(age2=larynx["age"] * 2 + 1), "time", "death", ["age", "age2"])
    assert "age2" in str(err.value)


def test_cutpoint_statistic_is_lifelines_logrank_and_lausen_formula(larynx: pd.DataFrame) -> None:
    from lifelines.statistics import logrank_test
    from scipy import stats

    res = max_stat_cutpoint(larynx, "time", "death", "age")
    high = larynx["age"] > res["cutpoint"]
    ref = logrank_test(larynx["time"][high], larynx["time"][~high], larynx["death"][high],
                       larynx["death"][~high])
    assert res["statistic"] ** 2 == pytest.approx(ref.test_statistic, rel=1e-10)
    assert res["p_naive"] == pytest.approx(ref.p_value, rel=1e-8)
    stat = logrank_statistics(larynx["time"], larynx["death"], larynx["age"].to_numpy(),
                              np.array([res["cutpoint"]]))
    assert abs(stat[0]) == pytest.approx(res["statistic"])
    # Lausen & Schumacher (1992) by hand at b = 3, proportions 0.1–0.9
    b = 3.0
    hand = 4 * stats.norm.pdf(b) / b + stats.norm.pdf(b) * (b - 1 / b) * np.log(0.81 / 0.01)
    assert lausen_schumacher_p(b, 0.1) == pytest.approx(hand)
    assert res["p"] > res["p_naive"]


def test_cutpoint_finds_a_planted_threshold() -> None:
    rng = np.random.default_rng(5)
    n = 300
    score = rng.uniform(0, 10, size=n)
    high = score > 6.0
    t = rng.exponential(np.where(high, 4.0, 16.0))
    c = rng.uniform(2, 40, size=n)
    df = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "score": score})
    res = max_stat_cutpoint(df, "time", "event", "score")
    assert 5.0 < res["cutpoint"] < 7.0 and res["p"] < 1e-4
    perm = max_stat_cutpoint(df, "time", "event", "score", method="permutation",
                             permutations=200)
    assert perm["p"] == pytest.approx(1 / 201)


@pytest.mark.slow
def test_corrected_cutpoint_p_is_calibrated_and_naive_p_is_not() -> None:
    rates = null_rejection_rates(200, n=150, alpha=0.05)
    assert rates["corrected"] <= 0.08
    assert rates["naive"] >= 0.2


@pytest.mark.slow
def test_survival_stage_in_the_tiny_run(tiny_run) -> None:
    from radiogenomics.simulate.stage import world_dir

    run_dir = tiny_run / "runs" / "tiny"
    stage = run_dir / "survival"
    cox_t = pd.read_csv(stage / "cox.tsv", sep="\t")
    assert set(cox_t["endpoint"]) == {"OS", "PFI"}
    assert {"univariable: rad_score", "multivariable"} <= set(cox_t["model"])
    medians = pd.read_csv(stage / "km_medians.tsv", sep="\t")
    assert {"rad_group", "hpv_status"} <= set(medians["grouping"])
    # the planted model, fitted on the ingested endpoints with the truth covariates
    root = world_dir(run_dir / "simulate")
    truth = json.loads((root / "truth" / "survival.json").read_text(encoding="utf-8"))
    table = pd.read_csv(root / "truth" / "transcriptome.tsv", sep="\t").set_index("patient")
    samples = pd.read_csv(run_dir / "ingest" / "samples.tsv", sep="\t", index_col=0)
    frame = table.loc[samples["patient"], list(truth["log_hazard_ratios"])].reset_index(drop=True)
    frame["OS"] = samples["OS"].to_numpy()
    frame["OS_time"] = samples["OS_time"].to_numpy()
    res = cox(frame, "OS_time", "OS", list(truth["log_hazard_ratios"]))
    inside = [np.log(res.loc[k, "hr_low"]) <= b <= np.log(res.loc[k, "hr_high"])
              for k, b in truth["log_hazard_ratios"].items()]
    assert sum(inside) >= 4  # 5 intervals at 95%: all but one, allowing chance
    html = (tiny_run / "reports" / "tiny" / "index.html").read_text(encoding="utf-8")
    assert 'id="survival"' in html and "km_OS_rad_group" in html


@pytest.mark.slow
def test_survival_stage_takes_deconvolved_cell_fractions(tiny_run, tmp_path) -> None:
    """``survival.cell_fractions`` brings the deconvolved CD8 T fraction (z of its log) into
    the Cox models; its univariable hazard ratio agrees with a lifelines fit on the same data."""
    from lifelines import CoxPHFitter

    from radiogenomics.config import load_config
    from radiogenomics.pipeline import StageContext
    from radiogenomics.survival.core import DAYS_PER_MONTH
    from radiogenomics.survival.stage import run

    cfg = load_config(tiny_run / "tiny.yaml", ['survival.cell_fractions=["CD8 T"]'])
    run_dir = tiny_run / "runs" / "tiny"
    out = tmp_path / "survival"
    out.mkdir()
    run(StageContext(config=cfg, out_dir=out, run_dir=run_dir,
                     upstream={n: run_dir / n for n in ("link", "gsea", "deconvolve")}))
    table = pd.read_csv(out / "cox.tsv", sep="\t")
    ours = table[(table["model"] == "univariable: CD8 T_z") & (table["endpoint"] == "OS")].iloc[0]
    fr = pd.read_csv(run_dir / "deconvolve" / "fractions.tsv", sep="\t", index_col=0)
    samples = pd.read_csv(run_dir / "ingest" / "samples.tsv", sep="\t", index_col=0)
    log = np.log(fr["CD8 T"].clip(lower=1e-4))
    data = pd.DataFrame({"z": (log - log.mean()) / log.std(ddof=1),
                         "T": samples.loc[fr.index, "OS_time"] / DAYS_PER_MONTH,
                         "E": samples.loc[fr.index, "OS"]}).dropna()
    direct = CoxPHFitter().fit(data, "T", "E")
    assert ours["coef"] == pytest.approx(direct.params_["z"], rel=1e-6)
