"""'At a glance': the study flow and the headline results, each linking to its section.

Built from the run directory's tables only (never recomputed); a stage that did not run simply
contributes no line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .model import Headline, HeadlineBlock, Section, TableBlock, TextBlock

__all__ = ["glance_section", "study_flow", "exclusions"]

#: the cohort order used everywhere in the report
COHORT_ORDER = ("train", "internal", "external", "transcriptome")


def _tsv(path: Path, **kwargs: Any) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], **kwargs)


def cohort_order(cohorts: Any) -> list[str]:
    """Known cohorts in study order, then any others alphabetically."""
    present = {str(c) for c in cohorts}
    return [c for c in COHORT_ORDER if c in present] + sorted(present - set(COHORT_ORDER))


def study_flow(run_dir: Path) -> pd.DataFrame | None:
    """Patients analysed per cohort and centre with their LNM prevalence (model predictions)."""
    pred = _tsv(run_dir / "model" / "predictions.tsv", dtype={0: str})
    if pred is None:
        return None
    pred["center"] = pred["center"].fillna("").astype(str) if "center" in pred else ""
    rows = []
    for cohort in cohort_order(pred["cohort"]):
        part = pred[pred["cohort"] == cohort]
        for center, sub in [("all", part), *sorted(part.groupby("center"), key=lambda t: str(t[0]))]:
            known = sub["lnm"].dropna()
            rows.append({"cohort": cohort, "centre": center, "patients": len(sub),
                         "LNM known": len(known), "LNM+": int(known.sum()) if len(known) else None,
                         "LNM prevalence": round(float(known.mean()), 3) if len(known) else None})
    # whole numbers, blank where no patient's status is recorded (in the page and the TSV)
    return pd.DataFrame(rows).astype({"LNM+": "Int64"})


def exclusions(run_dir: Path) -> pd.DataFrame:
    """Every case left out, by which stage and why (imaging QC, failed cases, RNA-seq files)."""
    frames = []
    failures = _tsv(run_dir / "extract" / "failures.tsv", dtype={"patient_id": str})
    if failures is not None and len(failures):
        frames.append(pd.DataFrame({"case": failures["patient_id"], "stage": "extract",
                                    "reason": failures["reason"]}))
    for name, label in (("failures.tsv", "ingest"), ("not_chosen.tsv", "ingest (replicate)")):
        table = _tsv(run_dir / "ingest" / name, dtype=str)
        if table is not None and len(table):
            frames.append(pd.DataFrame({"case": table["barcode"], "stage": label,
                                        "reason": table["reason"]}))
    unmatched = _tsv(run_dir / "link" / "unmatched.tsv", dtype=str)
    if unmatched is not None and len(unmatched):
        why = {"rna_only": "RNA-seq without CT in the imaging cohort",
               "ct_only": "CT without a primary-tumour RNA-seq sample"}
        frames.append(pd.DataFrame({"case": unmatched["patient"], "stage": "link",
                                    "reason": unmatched["side"].map(why).fillna(unmatched["side"])}))
    if not frames:
        return pd.DataFrame(columns=["case", "stage", "reason"])
    return pd.concat(frames, ignore_index=True)


def _model_headlines(run_dir: Path) -> list[Headline]:
    metrics = _tsv(run_dir / "model" / "metrics.tsv")
    record_path = run_dir / "model" / "model.json"
    if metrics is None or not record_path.is_file():
        return []
    from ..model.figures import LABELS

    record = json.loads(record_path.read_text(encoding="utf-8"))
    out = []
    for model in dict.fromkeys(["radscore", record["best"]]):
        rows = metrics[(metrics["model"] == model) & ~metrics["cohort"].str.contains(":")]
        rows = rows.set_index("cohort")
        parts = [f"{c} {rows.loc[c, 'auc']:.3f} ({rows.loc[c, 'auc_low']:.3f}–{rows.loc[c, 'auc_high']:.3f})"
                 for c in cohort_order(rows.index) if c in rows.index]
        label = f"AUC, {LABELS.get(model, model)}" + (" (best)" if model == record["best"] else "")
        out.append(Headline(label, "; ".join(parts) + " (95% CI)", "model"))
    return out


def _de_headline(run_dir: Path) -> list[Headline]:
    results = _tsv(run_dir / "de" / "results.tsv", index_col=0)
    params_path = run_dir / "de" / "params.json"
    if results is None or not params_path.is_file():
        return []
    params = json.loads(params_path.read_text(encoding="utf-8"))
    sig = results["padj"] < params["alpha"]
    up = int((sig & (results["log2FoldChange"] > 0)).sum())
    down = int((sig & (results["log2FoldChange"] < 0)).sum())
    return [Headline("Differential expression",
                     f"{up} genes up, {down} down in {params['test']} vs {params['reference']} "
                     f"rad-score tumours (padj < {params['alpha']}; {params['n_test']} vs "
                     f"{params['n_reference']} tumours)", "de")]


def _gsea_headline(run_dir: Path, top: int = 3) -> list[Headline]:
    gsea = _tsv(run_dir / "gsea" / "gsea.tsv")
    if gsea is None or gsea.empty:
        return []
    sig = (gsea[gsea["FDR q-val"] < 0.05].assign(abs_nes=lambda d: d["NES"].abs())
           .sort_values(["FDR q-val", "abs_nes"], ascending=[True, False]))
    if sig.empty:
        return [Headline("Gene-set enrichment", "no set at FDR < 0.05", "gsea")]
    shown = "; ".join(f"{r.Term} (NES {r.NES:+.2f})" for r in sig.head(top).itertuples())
    return [Headline("Gene-set enrichment",
                     f"{len(sig)} sets at FDR < 0.05; strongest: {shown}", "gsea")]


def _immune_headline(run_dir: Path) -> list[Headline]:
    tests = _tsv(run_dir / "deconvolve" / "group_tests.tsv")
    if tests is None:
        return []
    sig = tests[tests["padj"] < 0.05].sort_values("padj")
    if sig.empty:
        return [Headline("Immune microenvironment", "no cell type differs at FDR < 0.05",
                         "deconvolve")]
    parts = [f"{r.cell_type} {'higher' if r.log2_ratio_of_medians > 0 else 'lower'} "
             f"(padj {r.padj:.1g})" for r in sig.itertuples()]
    return [Headline("Immune microenvironment (high vs low rad-score)", "; ".join(parts),
                     "deconvolve")]


def _survival_headline(run_dir: Path) -> list[Headline]:
    cox = _tsv(run_dir / "survival" / "cox.tsv")
    if cox is None:
        return []
    out = []
    for endpoint in dict.fromkeys(cox["endpoint"]):
        rows = cox[(cox["endpoint"] == endpoint) & (cox["covariate"] == "rad_score")]
        parts = [f"{'adjusted' if r.model == 'multivariable' else 'unadjusted'} HR {r.hr:.2f} "
                 f"({r.hr_low:.2f}–{r.hr_high:.2f}), p = {r.p:.2g}"
                 for r in rows.itertuples() if r.model in ("multivariable", "univariable: rad_score")]
        if parts:
            out.append(Headline(f"Survival, {endpoint} per unit rad-score", "; ".join(parts),
                                "survival"))
    return out


def glance_section(run_dir: str | Path) -> Section | None:
    """The report's first section, or None when the run has nothing to summarise yet."""
    run_dir = Path(run_dir)
    flow = study_flow(run_dir)
    excluded = exclusions(run_dir)
    headlines = (_model_headlines(run_dir) + _de_headline(run_dir) + _gsea_headline(run_dir)
                 + _immune_headline(run_dir) + _survival_headline(run_dir))
    if flow is None and excluded.empty and not headlines:
        return None
    blocks: list = []
    if headlines:
        blocks.append(HeadlineBlock(headlines))
    if flow is not None:
        totals = flow[flow["centre"] == "all"]
        text = ", ".join(f"{r['cohort']} {r['patients']} " + (
            f"({r['LNM+']} LNM+)" if r["LNM known"] == r["patients"]
            else f"({r['LNM+']} LNM+ of {r['LNM known']} with known status)" if r["LNM known"]
            else "(LNM status not recorded)") for r in totals.to_dict("records"))
        by_stage = excluded["stage"].value_counts()
        left = (", ".join(f"{n} at {stage}" for stage, n in by_stage.items())
                if len(by_stage) else "none")
        blocks.append(TextBlock(f"Patients analysed per cohort: {text}. Left out: {left} "
                                "(reasons below)."))
        blocks.append(TableBlock(flow, name="study_flow", max_rows=200,
                                 caption="Study flow: patients analysed per cohort and centre, "
                                         "with the prevalence of occult lymph-node metastasis."))
    if not excluded.empty:
        blocks.append(TableBlock(excluded, name="exclusions", max_rows=30,
                                 caption="Cases left out, by stage, with the reason."))
    return Section(id="glance", title="At a glance", blocks=blocks)
