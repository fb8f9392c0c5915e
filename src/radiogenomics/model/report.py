"""Report section of the model stage: ROC with CI bands, calibration, decision curves, the
rad-score formula, the nomogram and the metric and DeLong tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .figures import (
    LABELS,
    calibration_figure,
    coefficient_figure,
    dca_figure,
    nomogram_figure,
    roc_figure,
)


def _read(stage_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(stage_dir / f"{name}.tsv", sep="\t")


def report_sections(stage_dir: Path) -> list[Section]:
    """The model section, in the order a reader checks a prediction model."""
    record = json.loads((stage_dir / "model.json").read_text(encoding="utf-8"))
    metrics, roc, band = _read(stage_dir, "metrics"), _read(stage_dir, "roc"), _read(stage_dir, "roc_band")
    calib, dca, delong = _read(stage_dir, "calibration"), _read(stage_dir, "dca"), _read(stage_dir, "delong")
    formula, features = _read(stage_dir, "radscore_formula"), _read(stage_dir, "features")
    nomogram, total = _read(stage_dir, "nomogram"), _read(stage_dir, "nomogram_total")
    best = record["best"]
    shown = list(dict.fromkeys(["radscore", "clinical", "combined", best]))
    train = record["params"]["train_cohort"]
    cohorts = [c for c in metrics["cohort"].unique() if ":" not in c]
    row = metrics[(metrics["model"] == best)].set_index("cohort")["auc"]
    offered = int(features["offered"].sum())
    text = (
        f"Models fitted on the '{train}' cohort only ({record['train_patients']['n']} patients) "
        f"and applied unchanged elsewhere. {offered} features offered "
        f"({int((features['offered'] & (features['habitat'] == 'whole')).sum())} whole-tumour "
        f"features with ICC ≥ {record['model_config']['icc_threshold']}, "
        f"{int((features['offered'] & (features['habitat'] != 'whole')).sum())} habitat features); "
        f"the rad-score keeps {len(formula) - 1} after the redundancy filter "
        f"(|ρ| > {record['params']['redundancy']}) and the LASSO. Best model by out-of-fold "
        f"training AUC: {LABELS.get(best, best)} (AUC "
        + ", ".join(f"{c} {row[c]:.3f}" for c in cohorts if c in row) + "). Thresholds (Youden "
        "on training out-of-fold predictions): "
        + ", ".join(f"{LABELS.get(k, k)} {v:.3f}" for k, v in record["thresholds"].items()) + "."
    )
    blocks: list = [TextBlock(text)]
    for cohort in cohorts:
        label = f"{cohort} (out-of-fold)" if cohort == train else cohort
        blocks.append(FigureBlock(
            roc_figure(roc, band, metrics, cohort, shown).update_layout(title=f"ROC, {label}"),
            data=roc[(roc["cohort"] == cohort) & roc["model"].isin(shown)],
            name=f"roc_{cohort}",
            caption=(f"ROC curves in the {label} cohort; shaded: pointwise bootstrap 95% band; "
                     f"legend: AUC with DeLong 95% CI.")))
    metric_cols = ["cohort", "model", "n", "n_pos", "auc", "auc_low", "auc_high", "brier",
                   "calib_intercept", "calib_slope", "threshold", "sens", "spec", "ppv", "npv",
                   "accuracy"]
    blocks.append(TableBlock(metrics[[c for c in metric_cols if c in metrics]],
                             name="model_metrics",
                             caption="Per cohort and model: AUC (DeLong 95% CI), Brier score, "
                                     "calibration intercept and slope, and threshold metrics at "
                                     "the training threshold (bootstrap CIs in the TSV)."))
    blocks.append(TableBlock(delong, name="delong_tests",
                             caption="DeLong tests of correlated AUCs: each model against the "
                                     "clinical model, and the rad-score against the combined model."))
    for model in dict.fromkeys([best, "combined"]):
        blocks.append(FigureBlock(
            calibration_figure(calib, model, cohorts),
            data=calib[calib["model"] == model], name=f"calibration_{model}",
            caption="Observed LNM frequency against mean predicted risk per decile of risk."))
    for cohort in [c for c in cohorts if c != train]:
        blocks.append(FigureBlock(
            dca_figure(dca, cohort, shown), data=dca[(dca["cohort"] == cohort) & dca["model"].isin(shown)],
            name=f"dca_{cohort}",
            caption=f"Decision curves in the {cohort} cohort: net benefit against threshold probability."))
    blocks.append(FigureBlock(coefficient_figure(formula), data=formula, name="radscore_formula",
                              caption="The rad-score formula: rad-score = intercept + Σ coef × "
                                      "feature (per SD here; raw-unit coefficients in the TSV)."))
    blocks.append(FigureBlock(nomogram_figure(nomogram, total), data=nomogram, name="nomogram",
                              caption="Nomogram of the combined model (rad-score + clinical "
                                      "variables): read each predictor's points, add them, and "
                                      "read the risk on the bottom row."))
    return [Section(id="model", title="Occult LNM model: discrimination, calibration, utility",
                    blocks=blocks)]
