"""Stage ``link``: the saved LNM model's rad-score of the transcriptome cohort's CT joined to the
bulk AnnData by TCGA patient ID, with high/low groups by the training threshold (or the median).

Patients on either side without a partner are listed in ``unmatched.tsv`` and in the report,
never dropped silently: the bulk AnnData keeps every sample, with ``rad_score`` and
``rad_group`` missing where there is no CT.
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._files import atomic_write_h5ad, atomic_write_tsv
from .._logging import logger
from ..errors import UserError
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock

__all__ = ["link_radscore"]


def link_radscore(bulk: ad.AnnData, predictions: pd.DataFrame, threshold: float, *,
                  model: str = "radscore", grouping: str = "threshold") -> pd.DataFrame:
    """Join rad-scores to ``bulk`` (in place) by the 12-character TCGA patient ID.

    Parameters
    ----------
    bulk
        Bulk AnnData with ``.obs["patient"]``.
    predictions
        One row per CT patient (index: patient ID) with ``rad_score`` and ``<model>_prob``.
    threshold
        The model's training probability threshold (``grouping="threshold"``).
    grouping
        ``threshold``: ``high`` when the probability reaches the training threshold;
        ``median``: ``high`` above the transcriptome cohort's median rad-score.

    Returns
    -------
    DataFrame
        The unmatched patients: ``patient``, ``side`` (``ct_only`` or ``rna_only``).
    Results are stored in ``bulk.obs["rad_score"]``, ``["rad_prob"]``, ``["rad_group"]``
    and ``bulk.uns["link"]`` (parameters and counts).
    """
    ct = predictions.copy()
    ct.index = ct.index.astype(str).str[:12]
    if ct.index.duplicated().any():
        msg = f"CT predictions: patient {ct.index[ct.index.duplicated()][0]} appears twice"
        raise UserError(msg)
    patients = bulk.obs["patient"].astype(str)
    matched = patients.isin(ct.index)
    score = patients.map(ct["rad_score"]).astype(float)
    prob = patients.map(ct[f"{model}_prob"]).astype(float)
    if grouping == "threshold":
        high = prob >= threshold
    else:
        high = score > np.nanmedian(score[matched]) if matched.any() else score > 0
    bulk.obs["rad_score"] = score.to_numpy()
    bulk.obs["rad_prob"] = prob.to_numpy()
    bulk.obs["rad_group"] = pd.Categorical(np.where(matched, np.where(high, "high", "low"), None),
                                           categories=["low", "high"])
    rna_only = sorted(set(patients[~matched]))
    ct_only = sorted(set(ct.index) - set(patients))
    unmatched = pd.DataFrame({"patient": ct_only + rna_only,
                              "side": ["ct_only"] * len(ct_only) + ["rna_only"] * len(rna_only)})
    counts = bulk.obs.loc[matched.to_numpy(), "rad_group"].value_counts()
    bulk.uns["link"] = {
        "params": {"model": model, "grouping": grouping, "threshold": float(threshold)},
        "n_matched": int(patients[matched].nunique()), "n_ct_only": len(ct_only),
        "n_rna_only": len(rna_only), "n_high": int(counts.get("high", 0)),
        "n_low": int(counts.get("low", 0)),
    }
    logger.info("link: %d patients with CT and RNA-seq (%d high, %d low); %d CT-only, %d RNA-only",
                bulk.uns["link"]["n_matched"], bulk.uns["link"]["n_high"],
                bulk.uns["link"]["n_low"], len(ct_only), len(rna_only))
    return unmatched


def run(ctx: StageContext) -> None:
    """Rad-scores of ``link.cohort`` joined to the ingested bulk AnnData."""
    cfg = ctx.config.link
    model_dir = ctx.upstream["model"]
    record = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    if cfg.model not in record["thresholds"]:
        msg = f"link.model={cfg.model!r} is not a fitted model; fitted: {sorted(record['thresholds'])}"
        raise UserError(msg)
    preds = pd.read_csv(model_dir / "predictions.tsv", sep="\t", index_col=0, dtype={0: str})
    ct = preds[preds["cohort"] == cfg.cohort]
    if ct.empty:
        msg = (f"no patient of cohort '{cfg.cohort}' among the model's predictions; the case table "
               f"must list the transcriptome patients' CT with that cohort (set link.cohort)")
        raise UserError(msg)
    bulk = ad.read_h5ad(ctx.upstream["ingest"] / "bulk.h5ad")
    unmatched = link_radscore(bulk, ct, record["thresholds"][cfg.model], model=cfg.model,
                              grouping=cfg.grouping)
    out = ctx.out_dir
    atomic_write_tsv(out / "unmatched.tsv", unmatched)
    cols = ["patient", "rad_score", "rad_prob", "rad_group"]
    atomic_write_tsv(out / "linked.tsv", bulk.obs.loc[bulk.obs["rad_group"].notna(), cols],
                     index=True)
    atomic_write_h5ad(out / "bulk.h5ad", bulk)


def report_sections(stage_dir: Path) -> list[Section]:
    """Who was linked, the groups, and the rad-score distribution of the linked patients."""
    from ..report.figures import box_by_group

    bulk = ad.read_h5ad(stage_dir / "bulk.h5ad", backed="r")
    info = bulk.uns["link"]
    obs = bulk.obs.copy()
    bulk.file.close()
    params = info["params"]
    unmatched = pd.read_csv(stage_dir / "unmatched.tsv", sep="\t", dtype=str, keep_default_na=False)
    rule = (f"probability ≥ the training threshold {params['threshold']:.3f}"
            if params["grouping"] == "threshold" else "rad-score above the cohort median")
    blocks = [TextBlock(
        f"{info['n_matched']} TCGA patients have both CT and RNA-seq; the saved {params['model']} "
        f"model (fitted on the imaging training cohort, unchanged) gives {info['n_high']} high and "
        f"{info['n_low']} low rad-score patients ({rule}). {info['n_ct_only']} patient(s) have CT "
        f"but no RNA-seq sample and {info['n_rna_only']} have RNA-seq but no usable CT; they are "
        f"listed below.")]
    linked = obs[obs["rad_group"].notna()]
    data = pd.DataFrame({"patient": linked["patient"].astype(str).to_numpy(),
                         "rad_group": linked["rad_group"].astype(str).to_numpy(),
                         "rad_score": linked["rad_score"].to_numpy()})
    if len(data):
        blocks.append(FigureBlock(
            box_by_group(data, value="rad_score", group="rad_group", hover="patient",
                         title="Rad-score of the linked TCGA patients", order=["low", "high"]),
            data=data, name="linked_radscore", caption="Rad-score (the LASSO model's linear "
                                                       "predictor) per group."))
    if len(unmatched):
        blocks.append(TableBlock(unmatched, name="unmatched_patients",
                                 caption="Patients without a partner on the other side."))
    return [Section(id="link", title="Linking the rad-score to the transcriptomes", blocks=blocks)]
