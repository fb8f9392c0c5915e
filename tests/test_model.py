"""The LNM model: DeLong against its definition, a published table and the bootstrap; decision
curves by hand; ICC against Shrout & Fleiss; leakage, null and persistence tests on planted
tabular data; and the stage on the tiny world (predict reproduces the stage's probabilities)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from radiogenomics.errors import InputFileError
from radiogenomics.model import (
    auc_ci,
    calibration,
    decision_curve,
    delong_test,
    evaluate_study,
    fit_study,
    load_study,
    net_benefit,
    save_study,
    youden_threshold,
)
from radiogenomics.model.features import RedundancyFilter, icc_1_1


def _naive_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) written from the definition: ψ(X, Y) = 1 if X > Y, ½ if equal."""
    pos, neg = y == 1, y == 0
    v10, v01, aucs = [], [], []
    for s in scores:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    v10, v01 = np.array(v10), np.array(v01)
    cov = np.atleast_2d(np.cov(v10)) / pos.sum() + np.atleast_2d(np.cov(v01)) / neg.sum()
    return np.array(aucs), cov


def _scores(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    a = y * 1.0 + rng.normal(size=n)
    b = np.round(y * 0.6 + rng.normal(size=n), 1)  # ties
    return y, a, b


def test_delong_matches_its_definition_sklearn_and_the_bootstrap():
    y, a, b = _scores()
    res = auc_ci(y, a)
    aucs, cov = _naive_delong(y, [a, b])
    assert res.auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert res.se == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-9)
    test = delong_test(y, a, b)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert test["auc_b"] == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert test["se"] == pytest.approx(np.sqrt(var), rel=1e-9)
    rng = np.random.default_rng(1)
    boots = [roc_auc_score(y[i], a[i]) for i in (rng.integers(0, len(y), len(y)) for _ in range(500))]
    assert res.se == pytest.approx(np.std(boots), rel=0.1)


def test_delong_on_hanley_mcneil_ct_ratings():
    """Hanley & McNeil (Radiology 1982), Table 1: 109 CT images rated 1-5 by a radiologist;
    they report an area of 0.893 with standard error 0.032."""
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    y = np.r_[np.zeros(sum(normal)), np.ones(sum(abnormal))].astype(int)
    score = np.r_[np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)]
    res = auc_ci(y, score)
    assert round(res.auc, 3) == 0.893
    assert res.se == pytest.approx(0.032, abs=0.003)


def test_youden_net_benefit_and_decision_curve_by_hand():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.6, 0.7, 0.2, 0.4, 0.1])
    # treat p >= 0.5: patients 0, 1, 2 → TP 2, FP 1 → 2/6 - 1/6 * 0.5/0.5
    assert net_benefit(y, p, 0.5) == pytest.approx(1 / 6)
    # treat p >= 0.3: TP 3, FP 1 → 3/6 - 1/6 * 0.3/0.7
    assert net_benefit(y, p, 0.3) == pytest.approx(0.5 - 1 / 6 * 0.3 / 0.7)
    curve = decision_curve(y, p, thresholds=np.array([0.2, 0.5]))
    assert curve["treat_all"].tolist() == pytest.approx([0.5 - 0.5 * 0.25, 0.0])
    assert (curve["treat_none"] == 0).all()
    threshold = youden_threshold(y, p)
    pred = p >= threshold
    assert pred[y == 1].mean() + (~pred[y == 0]).mean() - 1 == pytest.approx(2 / 3)


def test_calibration_intercept_and_slope():
    rng = np.random.default_rng(0)
    lp = rng.normal(0, 1.5, size=20000)
    p = 1 / (1 + np.exp(-lp))
    y = (rng.random(len(p)) < p).astype(int)
    good = calibration(y, p)
    assert good["intercept"] == pytest.approx(0, abs=0.05)
    assert good["slope"] == pytest.approx(1, abs=0.05)
    over = calibration(y, 1 / (1 + np.exp(-2 * lp)))  # overconfident: slope about 1/2
    assert over["slope"] == pytest.approx(0.5, abs=0.05)
    # a model without features predicts one value: no slope; the intercept is the log-odds gap
    flat = calibration(y, np.full(len(y), 0.2))
    assert np.isnan(flat["slope"])
    assert flat["intercept"] == pytest.approx(np.log(y.mean() / (1 - y.mean())) - np.log(0.2 / 0.8))


def test_icc_matches_shrout_and_fleiss():
    """Shrout & Fleiss (Psychol Bull 1979), Table 2: six targets rated by four judges;
    ICC(1,1) = 0.17."""
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6],
                        [10, 5, 6, 9], [6, 2, 4, 7]], float)
    assert round(float(icc_1_1(ratings[:, :, None])[0]), 2) == 0.17


def test_redundancy_filter_keeps_one_of_a_correlated_pair():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    X = np.column_stack([x[:, 0], x[:, 0] * 2 + 0.01 * rng.normal(size=100), x[:, 1], x[:, 2],
                         np.ones(100)])
    y = (x[:, 0] + rng.normal(size=100) > 0).astype(int)
    support = RedundancyFilter(0.9).fit(X, y).support_
    assert support[[2, 3]].all() and support[:2].sum() == 1 and not support[4]


def planted_study(seed: int = 0, signal: float = 1.0):
    """Tabular study: 30 features (3 carry a latent signal), clinical columns, a training
    cohort and an external one, LNM from the latent value."""
    rng = np.random.default_rng(seed)
    n = {"train": 240, "external": 160}
    cohort = np.repeat(list(n), list(n.values()))
    z = rng.normal(size=len(cohort))
    feats = rng.normal(size=(len(cohort), 30))
    feats[:, :3] += signal * z[:, None]
    t_stage = np.clip(np.round(2.3 + 0.5 * z + rng.normal(size=len(z))), 1, 4)
    p = 1 / (1 + np.exp(-(-1.0 + 1.6 * z)))
    lnm = (rng.random(len(z)) < p).astype(float)
    index = pd.Index([f"P{i:04d}" for i in range(len(z))], name="patient_id")
    X = pd.DataFrame(feats, index=index, columns=[f"f{i}" for i in range(30)])
    obs = pd.DataFrame({"cohort": cohort, "center": np.where(cohort == "train", "A", "B"),
                        "lnm": lnm, "t_stage": t_stage,
                        "sex": rng.choice(["male", "female"], size=len(z))}, index=index)
    return pd.concat([X, obs[["t_stage", "sex"]]], axis=1), obs


def _fit(X, obs, **kw):
    return fit_study(X, obs["lnm"], obs["cohort"], features=[f"f{i}" for i in range(30)],
                     numeric=["t_stage"], categorical=["sex"], folds=3, learners=("svm",),
                     n_jobs=1, **kw)


@pytest.fixture(scope="module")
def fitted():
    X, obs = planted_study()
    return X, obs, _fit(X, obs)


def test_fit_is_identical_without_the_test_cohorts_and_recovers_the_signal(fitted):
    X, obs, full = fitted
    train = (obs["cohort"] == "train").to_numpy()
    alone = _fit(X.loc[train], obs.loc[train])
    ext = X.loc[~train]
    pd.testing.assert_frame_equal(full.predict(ext), alone.predict(ext))
    assert full.thresholds == alone.thresholds
    lasso = full.models["radscore"].named_steps["lasso"]
    names = full.models["radscore"][:-1].get_feature_names_out()
    chosen = set(np.asarray(names)[lasso.coef_.ravel() != 0])
    # the three planted features carry the same signal: the one-SE rule's sparse model needs
    # only some of them, and takes no noise feature
    assert len(chosen) >= 2 and chosen <= {"f0", "f1", "f2"}, chosen
    res = evaluate_study(full, X, obs, n_boot=200)
    ext_auc = res["metrics"].query("cohort == 'external' and model == 'radscore'").iloc[0]
    truth = roc_auc_score(obs.loc[~train, "lnm"], X.loc[~train, ["f0", "f1", "f2"]].sum(axis=1))
    assert abs(ext_auc["auc"] - truth) < 0.05
    comb = res["delong"].query("cohort == 'external' and model_a == 'combined' and model_b == 'clinical'")
    assert comb["diff"].iloc[0] > 0


def test_null_permuted_training_labels_find_nothing():
    X, obs = planted_study(seed=3)
    permuted = obs.copy()
    train = (obs["cohort"] == "train").to_numpy()
    rng = np.random.default_rng(0)
    permuted.loc[train, "lnm"] = rng.permutation(obs.loc[train, "lnm"].to_numpy())
    study = _fit(X, permuted)
    res = evaluate_study(study, X, obs, n_boot=100)  # judged against the true external labels
    for model in ("radscore", "svm"):
        row = res["metrics"].query("cohort == 'external' and model == @model").iloc[0]
        assert row["auc_low"] <= 0.5 <= row["auc_high"], (model, row["auc"])


class NotAModel:
    """A type outside the trusted libraries."""


def test_saved_study_round_trips_and_refuses_untrusted_types(tmp_path, fitted):
    import skops.io as sio

    X, obs, study = fitted
    out = tmp_path / "model"
    out.mkdir()
    save_study(study, out, provenance={"note": "test"}, copies={})
    loaded, record = load_study(out)
    pd.testing.assert_frame_equal(loaded.predict(X), study.predict(X))
    assert record["note"] == "test" and record["thresholds"] == study.thresholds
    sio.dump({"models": {"x": NotAModel()}}, out / "model.skops")
    with pytest.raises(InputFileError, match="refuses to load"):
        load_study(out)


@pytest.mark.slow
def test_model_stage_and_predict_on_the_tiny_run(tiny_run: Path):
    from conftest import run_cli

    run_dir = tiny_run / "runs" / "tiny"
    metrics = pd.read_csv(run_dir / "model" / "metrics.tsv", sep="\t")
    assert list(metrics.columns[:14]) == ["cohort", "model", "n", "n_pos", "auc", "auc_low",
                                          "auc_high", "brier", "calib_intercept", "calib_slope",
                                          "sens", "spec", "ppv", "npv"]
    assert {"train", "internal", "external"} <= set(metrics["cohort"])
    preds = pd.read_csv(run_dir / "model" / "predictions.tsv", sep="\t", index_col=0)
    from radiogenomics.simulate.stage import world_dir

    root = world_dir(run_dir / "simulate")
    cases = pd.read_csv(root / "imaging" / "cases.tsv", sep="\t")
    external = cases[cases["cohort"] == "external"].head(6).copy()
    for col in ("image", "mask"):
        external[col] = [str(root / "imaging" / p) for p in external[col]]
    table = tiny_run / "external_cases.tsv"
    external.to_csv(table, sep="\t", index=False)
    res = run_cli("predict", "--model", str(run_dir / "model"), "--cases", str(table),
                  "--out", str(tiny_run / "predicted"))
    assert res.returncode == 0, res.stderr
    got = pd.read_csv(tiny_run / "predicted" / "predictions.tsv", sep="\t", index_col=0)
    for col in ("rad_score", "radscore_prob", "combined_prob", "svm_prob", "random_forest_prob"):
        np.testing.assert_allclose(got[col], preds.loc[got.index, col], rtol=1e-9, atol=1e-12)
    html = (tiny_run / "reports" / "tiny" / "index.html").read_text(encoding="utf-8")
    assert 'id="model"' in html and "nomogram" in html


def test_lasso_penalty_follows_the_one_standard_error_rule() -> None:
    """The rad-score's C: the CV AUCs recomputed with scikit-learn directly (same folds), then
    the smallest C whose mean AUC is within one standard error of the best mean."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from radiogenomics.model.learners import L1LogisticCV

    rng = np.random.default_rng(3)  # six weak features: the best mean AUC is at a larger C
    X = rng.normal(size=(120, 40))  # noqa: N806
    y = (0.5 * X[:, :6].sum(axis=1) + rng.normal(scale=1.5, size=120) > 0).astype(int)
    fitted = L1LogisticCV(Cs=8, folds=5, seed=3).fit(X, y)
    cs = np.logspace(-3.0, 0.5, 8)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=3).split(X, y))
    auc = np.array([[roc_auc_score(y[te], LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear",
                                                             max_iter=5000, random_state=3)
                                   .fit(X[tr], y[tr]).decision_function(X[te]))
                     for c in cs] for tr, te in folds])
    np.testing.assert_allclose(fitted.scores_, auc)
    mean = auc.mean(axis=0)
    best = int(np.argmax(mean))
    se = auc[:, best].std(ddof=1) / np.sqrt(5)
    expected = cs[np.flatnonzero(mean >= mean[best] - se)[0]]
    assert fitted.C_ == pytest.approx(expected)
    assert fitted.C_ < cs[best]  # the rule, not the best mean, chose
