"""Stage ``model``: the occult-LNM models fitted on the training cohort, evaluated on every
cohort, saved for ``predict``; and the tables the report draws from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._files import atomic_write_tsv
from .._logging import logger
from ..errors import UserError
from ..pipeline import StageContext
from .persist import save_study
from .study import Study, design_matrix, evaluate_study, fit_study

TABLES = ("metrics", "predictions", "delong", "calibration", "dca", "roc")


def select_features(var: pd.DataFrame, icc: pd.DataFrame | None, feature_set: str,
                    icc_threshold: float) -> pd.DataFrame:
    """The feature table with ``offered`` (the models may use it) and the ICC.

    Whole-tumour features need ICC ≥ ``icc_threshold`` (when an ICC table is given); habitat
    features are not perturbed and are offered as they are.
    """
    table = pd.DataFrame({"feature_id": var.index, "habitat": var["habitat"].astype(str).to_numpy()})
    whole = table["habitat"] == "whole"
    if icc is not None:
        table = table.merge(icc[["feature_id", "icc"]], on="feature_id", how="left")
    else:
        table["icc"] = np.nan
    robust = ~whole | (table["icc"] >= icc_threshold) if icc is not None else pd.Series(True, index=table.index)
    wanted = {"whole": whole, "habitat": ~whole, "both": pd.Series(True, index=table.index)}[feature_set]
    table["offered"] = (wanted & robust).to_numpy()
    return table


def radscore_formula(study: Study) -> pd.DataFrame:
    """The rad-score as a formula: non-zero LASSO coefficients per SD of each feature and in the
    feature's own units (``coef_raw``), with the intercept in both scales."""
    pipe = study.models["radscore"]
    names = pipe.named_steps["keep"].get_feature_names_out()
    scaler = pipe.named_steps["scale"]
    support = pipe.named_steps["redundancy"].support_
    lasso = pipe.named_steps["lasso"]
    coef = lasso.coef_.ravel()
    mean, scale = scaler.mean_[support], scaler.scale_[support]
    kept = np.asarray(names)[support]
    nz = coef != 0
    raw = coef / scale
    intercept_raw = float(lasso.intercept_[0] - np.sum(coef * mean / scale))
    table = pd.DataFrame({"feature": kept[nz], "coef_standardised": coef[nz],
                          "feature_mean": mean[nz], "feature_sd": scale[nz], "coef_raw": raw[nz]})
    table = table.reindex(table["coef_standardised"].abs().sort_values(ascending=False).index)
    head = pd.DataFrame({"feature": ["(intercept)"], "coef_standardised": [float(lasso.intercept_[0])],
                         "feature_mean": [np.nan], "feature_sd": [np.nan], "coef_raw": [intercept_raw]})
    return pd.concat([head, table], ignore_index=True)


def nomogram_tables(study: Study, X_train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: N803
    """Points per predictor of the combined model (the strongest spans 0–100) and the mapping
    of total points to probability, from the training patients' ranges."""
    comb = study.models["combined"]
    beta = comb.logistic_.coef_.ravel()
    oof = np.clip(study.oof["radscore"].to_numpy(), 1e-6, 1 - 1e-6)
    terms: list[dict[str, Any]] = []
    rs = np.log(oof / (1 - oof))
    terms.append({"term": "rad-score", "low": beta[0] * rs.min(), "high": beta[0] * rs.max(),
                  "label_low": f"{rs.min():.2f}", "label_high": f"{rs.max():.2f}"})
    enc = comb.encoder_
    j = 1
    if study.numeric:
        scaler = enc.named_transformers_["num"].named_steps["scale"]
        for k, col in enumerate(study.numeric):
            vals = pd.to_numeric(X_train[col], errors="coerce").dropna()
            contrib = beta[j] * (np.array([vals.min(), vals.max()]) - scaler.mean_[k]) / scaler.scale_[k]
            lo, hi = (0, 1) if contrib[0] <= contrib[1] else (1, 0)
            terms.append({"term": col, "low": contrib[lo], "high": contrib[hi],
                          "label_low": f"{[vals.min(), vals.max()][lo]:g}",
                          "label_high": f"{[vals.min(), vals.max()][hi]:g}"})
            j += 1
    if study.categorical:
        onehot = enc.named_transformers_["cat"].named_steps["onehot"]
        for k, col in enumerate(study.categorical):
            levels = list(onehot.categories_[k])
            drop = onehot.drop_idx_[k] if onehot.drop_idx_ is not None else None
            contrib = {}
            for idx, level in enumerate(levels):
                if drop is not None and idx == drop:
                    contrib[level] = 0.0
                else:
                    contrib[level] = beta[j]
                    j += 1
            lo, hi = min(contrib, key=contrib.__getitem__), max(contrib, key=contrib.__getitem__)
            terms.append({"term": col, "low": contrib[lo], "high": contrib[hi],
                          "label_low": str(lo), "label_high": str(hi)})
    table = pd.DataFrame(terms)
    span = float((table["high"] - table["low"]).max()) or 1.0
    table["points_min"] = 0.0
    table["points_max"] = (table["high"] - table["low"]) * 100 / span
    table = table.rename(columns={"label_low": "label_min", "label_high": "label_max"})
    total_max = float(table["points_max"].sum())
    probs = np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    base = comb.logistic_.intercept_[0] + table["low"].sum()
    points = (np.log(probs / (1 - probs)) - base) * 100 / span
    keep = (points >= 0) & (points <= total_max)
    total = pd.DataFrame({"points": points[keep], "probability": probs[keep],
                          "total_points_max": total_max})
    return table[["term", "points_min", "points_max", "label_min", "label_max", "low", "high"]], total


def roc_band(predictions: pd.DataFrame, metrics: pd.DataFrame, models: list[str],
             n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Pointwise bootstrap 95% band of the ROC curve (sensitivity at fixed 1 − specificity)."""
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, 51)
    rows = []
    for cohort in metrics["cohort"].unique():
        if ":" in cohort:
            continue
        part = predictions[(predictions["cohort"] == cohort) & predictions["lnm"].notna()]
        y = part["lnm"].to_numpy().astype(int)
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        if len(pos) < 2 or len(neg) < 2:
            continue
        for model in models:
            p = part[f"{model}_prob"].to_numpy()
            curves = []
            for _ in range(n_boot):
                idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
                fpr, tpr, _ = roc_curve(y[idx], p[idx])
                curves.append(np.interp(grid, fpr, tpr))
            arr = np.array(curves)
            rows.append(pd.DataFrame({"cohort": cohort, "model": model, "fpr": grid,
                                      "tpr_low": np.percentile(arr, 2.5, axis=0),
                                      "tpr_high": np.percentile(arr, 97.5, axis=0)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["cohort", "model", "fpr", "tpr_low", "tpr_high"])


def study_inputs(adata, icc: pd.DataFrame | None, cfg) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str], list[str]]:  # noqa: ANN001
    """The design matrix, obs, the feature table and the clinical column split of a radiomics
    AnnData under the model config."""
    obs = adata.obs.copy()
    if "lnm" not in obs or "cohort" not in obs:
        msg = "the case table needs 'cohort' and 'lnm' columns to fit the LNM models"
        raise UserError(msg)
    obs["lnm"] = pd.to_numeric(obs["lnm"], errors="coerce")
    table = select_features(adata.var, icc, cfg.feature_set, cfg.icc_threshold)
    train = (obs["cohort"] == cfg.train_cohort).to_numpy()
    frame = pd.DataFrame(np.asarray(adata.X, dtype=float), index=obs.index, columns=adata.var_names)
    sparse = frame.loc[train].isna().mean() > 0.5
    table.loc[sparse.to_numpy(), "offered"] = False
    offered = table.loc[table["offered"], "feature_id"].tolist()
    if not offered:
        msg = (f"no feature is offered to the models (feature_set={cfg.feature_set!r}, "
               f"icc_threshold={cfg.icc_threshold}); lower the threshold or change the set")
        raise UserError(msg)
    X, numeric, categorical = design_matrix(frame[offered], obs, cfg.clinical)  # noqa: N806
    return X, obs, table, numeric, categorical


def run(ctx: StageContext) -> None:
    """Fit on ``model.train_cohort``, evaluate everywhere, write tables and the saved model."""
    import anndata as ad

    cfg = ctx.config.model
    adata = ad.read_h5ad(ctx.upstream["habitats"] / "radiomics.h5ad")
    icc = pd.read_csv(ctx.upstream["robustness"] / "icc.tsv", sep="\t")
    X, obs, table, numeric, categorical = study_inputs(adata, icc, cfg)  # noqa: N806
    offered = table.loc[table["offered"], "feature_id"].tolist()
    logger.info("model: %d features offered (%d whole-tumour with ICC ≥ %.2f, %d habitat), "
                "clinical %s", len(offered),
                int((table["offered"] & (table["habitat"] == "whole")).sum()), cfg.icc_threshold,
                int((table["offered"] & (table["habitat"] != "whole")).sum()), cfg.clinical)
    study = fit_study(X, obs["lnm"], obs["cohort"], features=offered, numeric=numeric,
                      categorical=categorical, train_cohort=cfg.train_cohort, folds=cfg.folds,
                      redundancy=cfg.redundancy_threshold, learners=cfg.learners, seed=cfg.seed,
                      n_jobs=cfg.n_jobs or 2)
    results = evaluate_study(study, X, obs, n_boot=cfg.bootstrap, seed=cfg.seed)
    out = ctx.out_dir
    for name in TABLES:
        atomic_write_tsv(out / f"{name}.tsv", results[name], index=(name == "predictions"))
    formula = radscore_formula(study)
    table["selected"] = table["feature_id"].isin(formula["feature"])
    atomic_write_tsv(out / "features.tsv", table)
    atomic_write_tsv(out / "radscore_formula.tsv", formula)
    nomogram, total = nomogram_tables(study, X.loc[(obs["cohort"] == cfg.train_cohort).to_numpy()])
    atomic_write_tsv(out / "nomogram.tsv", nomogram)
    atomic_write_tsv(out / "nomogram_total.tsv", total)
    atomic_write_tsv(out / "roc_band.tsv", roc_band(
        results["predictions"], results["metrics"],
        sorted({"radscore", "clinical", "combined", study.best}), seed=cfg.seed))
    from ..imaging.extract import DEFAULT_PARAMS
    from ..imaging.habitat_stage import HABITAT_PARAMS

    ecfg, hcfg = ctx.config.extract, ctx.config.habitats
    provenance = {
        "extract": {"mask_label": ecfg.mask_label, "allow_slice_resample": ecfg.allow_slice_resample,
                    "qc": {"geometry_tolerance_mm": ecfg.geometry_tolerance_mm,
                           "min_roi_voxels": ecfg.min_roi_voxels}},
        "habitats": {"window": hcfg.window, "supervoxels": hcfg.supervoxels,
                     "spatial_weight": hcfg.spatial_weight, "seed": hcfg.seed},
        "model_config": cfg.model_dump(mode="json"),
    }
    save_study(study, out, provenance=provenance, copies={
        "extract_params.yaml": Path(ecfg.params or DEFAULT_PARAMS),
        "habitat_model.json": ctx.upstream["habitats"] / "model.json",
        "habitat_params.yaml": Path(hcfg.params or HABITAT_PARAMS),
    })
    best = results["metrics"].query("model == @study.best")
    logger.info("model: best %s; AUC %s", study.best,
                ", ".join(f"{r.cohort} {r.auc:.3f}" for r in best.itertuples()))
