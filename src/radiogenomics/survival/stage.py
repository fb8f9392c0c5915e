"""Stage ``survival``: Kaplan–Meier and log-rank by rad-score group (and other groupings), Cox
models (univariable and multivariable, with a proportional-hazards check) and the rad-score's
optimal cut-point with a corrected p-value, for each configured endpoint.

Times are days in the data (TCGA-CDR) and months in every table and figure. An analysis that
cannot run (a grouping with one group, too few events for a model) is recorded in ``notes.tsv``
and the others go on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from .._files import atomic_write_text, atomic_write_tsv, json_dumps
from .._logging import logger
from ..config import SurvivalConfig
from ..errors import UserError
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .core import DAYS_PER_MONTH, fit_cox, kaplan_meier, logrank, ph_test
from .cutpoint import max_stat_cutpoint


def survival_frame(obs: pd.DataFrame, endpoints: list[str],
                   scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per sample: endpoints (event 0/1, time in months), clinical columns and, when
    given, per-sample pathway scores."""
    frame = obs.copy()
    for ep in endpoints:
        if ep not in frame or f"{ep}_time" not in frame:
            msg = (f"survival: endpoint {ep} has no {ep}/{ep}_time columns in the bulk sample "
                   f"table (they come from the TCGA-CDR; OS also from GDC clinical.tsv)")
            raise UserError(msg)
        frame[f"{ep}_months"] = pd.to_numeric(frame[f"{ep}_time"], errors="coerce") / DAYS_PER_MONTH
    if scores is not None:
        frame = frame.join(scores, how="left")
    return frame


def analyse_endpoint(frame: pd.DataFrame, ep: str, cfg: SurvivalConfig) -> dict[str, Any]:
    """Every analysis of one endpoint; failures of single analyses become notes."""
    dur, evt = f"{ep}_months", ep
    out: dict[str, list] = {"curves": [], "medians": [], "at_risk": [], "cox": [], "ph": [],
                            "cutpoints": [], "curves_cut": [], "notes": []}

    def note(analysis: str, exc: Exception) -> None:
        logger.warning("%s", exc)
        out["notes"].append({"endpoint": ep, "analysis": analysis, "message": str(exc)})

    for grouping in cfg.groupings:
        where = f"survival {ep} by {grouping}"
        try:
            km = kaplan_meier(frame, dur, evt, grouping, at_risk_times=cfg.at_risk_months,
                              where=where)
            test = logrank(frame, dur, evt, grouping, where=where)
        except UserError as exc:
            note(f"KM by {grouping}", exc)
            continue
        out["curves"].append(km["curves"].assign(endpoint=ep, grouping=grouping))
        out["medians"].append(km["medians"].assign(endpoint=ep, grouping=grouping,
                                                   logrank_chi2=test["statistic"],
                                                   logrank_df=test["df"], logrank_p=test["p"]))
        out["at_risk"].append(km["at_risk"].reset_index().assign(endpoint=ep, grouping=grouping))
    covariates = [*cfg.covariates, *cfg.pathway_scores, *[f"{c}_z" for c in cfg.cell_fractions]]
    models = [("univariable", [c]) for c in covariates] + [("multivariable", covariates)]
    for kind, covs in models:
        where = f"survival {ep}, {kind} Cox ({', '.join(covs)})"
        try:
            fit = fit_cox(frame, dur, evt, covs, where=where)
        except UserError as exc:
            note(f"{kind} Cox {'+'.join(covs)}", exc)
            continue
        table = fit.table.reset_index().assign(
            endpoint=ep, model=kind if kind == "multivariable" else f"univariable: {covs[0]}",
            n=fit.table.attrs["n"], events=fit.table.attrs["events"],
            concordance=fit.table.attrs["concordance"], warnings=fit.table.attrs["warnings"])
        if fit.table.attrs["warnings"]:
            note(f"{kind} Cox {'+'.join(covs)}",
                 UserError(f"{where}: fitted, but lifelines warns: {fit.table.attrs['warnings']}; "
                           f"read its estimates with care"))
        out["cox"].append(table)
        if kind == "multivariable":
            try:
                ph = ph_test(fit, alpha=cfg.ph_alpha).reset_index().assign(endpoint=ep)
                out["ph"].append(ph)
            except (ValueError, np.linalg.LinAlgError) as exc:
                note("proportional-hazards test", exc)
    if cfg.cutpoint_score is not None:
        where = f"survival {ep}, cut-point of {cfg.cutpoint_score}"
        try:
            res = max_stat_cutpoint(frame, dur, evt, cfg.cutpoint_score,
                                    min_fraction=cfg.min_fraction, method=cfg.cutpoint_method,
                                    permutations=cfg.permutations, seed=cfg.seed, where=where)
        except UserError as exc:
            note("cut-point", exc)
        else:
            curve = res.pop("curve")
            out["cutpoints"].append({"endpoint": ep, "score": cfg.cutpoint_score, **res})
            out["curves_cut"].append(curve.assign(endpoint=ep, score=cfg.cutpoint_score))
    return out


def _concat(parts: list, columns: list[str] | None = None) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns or [])
    frames = [p if isinstance(p, pd.DataFrame) else pd.DataFrame([p]) for p in parts]
    return pd.concat(frames, ignore_index=True)


def _first(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return frame[[*cols, *[c for c in frame.columns if c not in cols]]]


def run(ctx: StageContext) -> None:
    """Survival analyses of the linked bulk cohort."""
    cfg = ctx.config.survival
    bulk = ad.read_h5ad(ctx.upstream["link"] / "bulk.h5ad", backed="r")
    obs = bulk.obs.copy()
    bulk.file.close()
    scores = None
    if cfg.pathway_scores:
        path = ctx.upstream["gsea"] / "pathway_scores.tsv"
        table = pd.read_csv(path, sep="\t", index_col=0)
        missing = [s for s in cfg.pathway_scores if s not in table.columns]
        if missing:
            msg = (f"survival.pathway_scores: {missing} not among the scored sets in {path} "
                   f"(available: {list(table.columns)[:10]}...)")
            raise UserError(msg)
        scores = table[cfg.pathway_scores]
    if cfg.cell_fractions:
        path = ctx.upstream["deconvolve"] / "fractions.tsv"
        table = pd.read_csv(path, sep="\t", index_col=0)
        missing = [c for c in cfg.cell_fractions if c not in table.columns]
        if missing:
            msg = f"survival.cell_fractions: {missing} are not deconvolved cell types in {path}"
            raise UserError(msg)
        logs = np.log(table[cfg.cell_fractions].clip(lower=1e-4))
        zs = (logs - logs.mean()) / logs.std(ddof=1)
        zs.columns = [f"{c}_z" for c in zs.columns]
        scores = zs if scores is None else scores.join(zs, how="outer")
    frame = survival_frame(obs, cfg.endpoints, scores)
    results = [analyse_endpoint(frame, ep, cfg) for ep in cfg.endpoints]

    def gather(key: str) -> pd.DataFrame:
        return _concat([p for r in results for p in r[key]])

    out = ctx.out_dir
    curves = gather("curves")
    atomic_write_tsv(out / "km_curves.tsv",
                     _first(curves, ["endpoint", "grouping"]) if len(curves) else curves)
    atomic_write_tsv(out / "km_medians.tsv", gather("medians"))
    atomic_write_tsv(out / "at_risk.tsv", gather("at_risk"))
    atomic_write_tsv(out / "cox.tsv", gather("cox"))
    atomic_write_tsv(out / "ph_test.tsv", gather("ph"))
    atomic_write_tsv(out / "cutpoints.tsv", gather("cutpoints"))
    atomic_write_tsv(out / "cutpoint_curves.tsv", gather("curves_cut"))
    atomic_write_tsv(out / "notes.tsv", _concat([n for r in results for n in r["notes"]],
                                                ["endpoint", "analysis", "message"]))
    atomic_write_text(out / "params.json", json_dumps({
        **cfg.model_dump(), "time_unit": "months (days / 30.4375)", "ties": "efron",
        "ci": "Greenwood variance with the exponential (log–log) transform for Kaplan–Meier; "
              "Wald for Cox"}))


def report_sections(stage_dir: Path) -> list[Section]:
    """KM by group with numbers at risk, Cox tables and forest plots, PH check, cut-point."""
    from .figures import cutpoint_figure, forest_figure, km_figure

    params = json.loads((stage_dir / "params.json").read_text(encoding="utf-8"))

    def read(name: str) -> pd.DataFrame:
        path = stage_dir / name
        try:
            return pd.read_csv(path, sep="\t")
        except pd.errors.EmptyDataError:
            return pd.DataFrame()

    curves, medians, at_risk = read("km_curves.tsv"), read("km_medians.tsv"), read("at_risk.tsv")
    cox_t, ph, cuts, cut_curves = (read("cox.tsv"), read("ph_test.tsv"), read("cutpoints.tsv"),
                                   read("cutpoint_curves.tsv"))
    notes = read("notes.tsv")
    blocks: list = [TextBlock(
        f"Endpoints {', '.join(params['endpoints'])} (TCGA-CDR; times in months). Kaplan–Meier "
        f"curves with 95% pointwise CIs and numbers at risk by {', '.join(params['groupings'])}; "
        f"log-rank tests (multi-group when more than two). Cox models (lifelines, Efron ties): "
        f"each covariate alone and all together ({', '.join(params['covariates'] + params['pathway_scores'] + [c + ' (z of log fraction)' for c in params.get('cell_fractions', [])])}); "
        f"proportional hazards checked with the scaled Schoenfeld residual test (rank time). "
        f"The {params['cutpoint_score']} cut-point maximises the log-rank statistic over cuts "
        f"leaving ≥ {100 * params['min_fraction']:g}% per side; its p-value is corrected "
        f"({params['cutpoint_method'].replace('_', '–')}), the naive p is shown only for "
        f"comparison.")]
    for ep in params["endpoints"]:
        for grouping in params["groupings"]:
            part = curves[(curves.get("endpoint") == ep) & (curves.get("grouping") == grouping)] \
                if len(curves) else curves
            if part is None or part.empty:
                continue
            med = medians[(medians["endpoint"] == ep) & (medians["grouping"] == grouping)]
            risk = at_risk[(at_risk["endpoint"] == ep) & (at_risk["grouping"] == grouping)]
            risk = risk.drop(columns=["endpoint", "grouping"]).set_index("group")
            p = float(med["logrank_p"].iloc[0])
            blocks.append(FigureBlock(
                km_figure(part, risk, title=f"{ep} by {grouping}: log-rank p = {p:.3g}"),
                data=part.drop(columns=["endpoint", "grouping"]), name=f"km_{ep}_{grouping}",
                caption=f"Kaplan–Meier estimate of {ep} by {grouping}; numbers at risk below."))
            blocks.append(TableBlock(med.drop(columns=["endpoint"]), name=f"km_medians_{ep}_{grouping}",
                                     caption=f"Median {ep} (months) with 95% CI per group; "
                                             "empty: not reached."))
        if len(cox_t):
            multi = cox_t[(cox_t["endpoint"] == ep) & (cox_t["model"] == "multivariable")]
            if len(multi):
                tab = multi.set_index("covariate")
                c_index = float(multi["concordance"].iloc[0])
                blocks.append(FigureBlock(
                    forest_figure(tab, title=f"{ep}: multivariable Cox model (n = "
                                             f"{int(multi['n'].iloc[0])}, {int(multi['events'].iloc[0])} "
                                             f"events, C-index {c_index:.3f})"),
                    data=multi.drop(columns=["endpoint"]), name=f"cox_forest_{ep}",
                    caption="Hazard ratios with 95% CIs (log scale)."))
            blocks.append(TableBlock(cox_t[cox_t["endpoint"] == ep].drop(columns=["endpoint"]),
                                     name=f"cox_{ep}", caption=f"{ep}: Cox models."))
        if len(ph):
            flagged = ph[(ph["endpoint"] == ep) & ph["violated"].astype(bool)]
            text = (f"{ep}: proportional hazards look violated for "
                    f"{', '.join(flagged['covariate'].astype(str))} (Schoenfeld p < "
                    f"{params['ph_alpha']}); read their hazard ratios as time-averaged, or "
                    f"stratify on them." if len(flagged) else
                    f"{ep}: no covariate violates proportional hazards (Schoenfeld p ≥ "
                    f"{params['ph_alpha']}).")
            blocks.append(TextBlock(text))
        if len(cuts) and (cuts["endpoint"] == ep).any():
            row = cuts[cuts["endpoint"] == ep].iloc[0]
            curve = cut_curves[cut_curves["endpoint"] == ep]
            blocks.append(FigureBlock(
                cutpoint_figure(curve, cutpoint=float(row["cutpoint"]), p=float(row["p"]),
                                p_naive=float(row["p_naive"]), score=str(row["score"])),
                data=curve.drop(columns=["endpoint"]), name=f"cutpoint_{ep}",
                caption=f"{ep}: the corrected p-value accounts for the {len(curve)} cuts tried."))
    if len(notes):
        blocks.append(TableBlock(notes, name="survival_notes",
                                 caption="Analyses that could not run, and why."))
    return [Section(id="survival", title="Survival", blocks=blocks)]
