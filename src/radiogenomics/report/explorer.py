"""The patient explorer's data: every imaging patient's scores, a bounded number of patients'
CT slices, and the transcriptome patients' cell fractions and pathway scores.

The report's script (``templates/report.js``) draws it; every string reaches the page through
``textContent`` or escaped Plotly text, never as HTML.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .figures import PALETTE
from .glance import cohort_order
from .model import ExplorerBlock, Section, TextBlock

__all__ = ["choose_image_patients", "explorer_payload", "explorer_section"]


def _round(values: Any, digits: int = 5) -> list[Any]:
    """Floats to ``digits`` significant digits (JSON size), NaN to null."""
    out = []
    for v in np.asarray(values, dtype=float).ravel():
        out.append(None if not np.isfinite(v) else float(f"{v:.{digits}g}"))
    return out


def _pack(array: np.ndarray) -> str:
    """uint8 array → zlib → base64 (the page inflates it with DecompressionStream('deflate'))."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(array, dtype=np.uint8).tobytes(),
                                          9)).decode("ascii")


def choose_image_patients(pred: pd.DataFrame, prob: str, threshold: float, *, available: set[str],
                          limit: int, seed: int = 0) -> list[str]:
    """Which patients' slices the report stores (at most ``limit``).

    Per cohort: the two highest- and two lowest-risk patients and the two most confidently
    misclassified (the LNM-positive patient with the lowest risk, the LNM-negative with the
    highest); then a seeded random sample of the rest. Only patients in ``available``.
    """
    chosen: list[str] = []

    def add(ids: Any) -> None:
        for pid in ids:
            if pid in available and pid not in chosen and len(chosen) < limit:
                chosen.append(pid)

    data = pred[pred.index.isin(available)]
    for cohort in cohort_order(data["cohort"]):
        part = data[data["cohort"] == cohort].sort_values(prob, kind="stable")
        add(part.index[-2:][::-1])
        add(part.index[:2])
        lnm = part["lnm"]
        add(part[(lnm == 1) & (part[prob] < threshold)].index[:1])
        add(part[(lnm == 0) & (part[prob] >= threshold)].index[-1:])
    rest = sorted(set(data.index) - set(chosen))
    rng = np.random.default_rng(seed)
    add(list(rng.permutation(rest)) if rest else [])
    return chosen


def _images(stage_dir: Path, ids: list[str]) -> dict[str, Any]:
    out = {}
    for pid in ids:
        with np.load(stage_dir / "thumbs" / f"{pid}.npz") as thumb:
            ct, hab = thumb["ct"], thumb["habitats"]
            out[pid] = {"shape": list(ct.shape), "slices": [int(z) for z in thumb["slices"]],
                        "pixel_mm": _round(thumb["pixel_mm"], 4),
                        "ct": _pack(ct), "hab": _pack(hab)}
    return out


def _matrix(table: pd.DataFrame, key: str, columns: list[str]) -> dict[str, Any]:
    table = table.dropna(subset=[key]).drop_duplicates(key)
    return {"ids": table[key].astype(str).tolist(),
            "values": [_round(row) for row in table[columns].to_numpy(dtype=float)]}


def explorer_payload(run_dir: str | Path, *, max_images: int = 60) -> dict[str, Any] | None:
    """The explorer's data from a run directory, or None before the model stage has run."""
    from ..model.figures import LABELS

    run_dir = Path(run_dir)
    pred_path, record_path = run_dir / "model" / "predictions.tsv", run_dir / "model" / "model.json"
    if not pred_path.is_file() or not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    pred = pd.read_csv(pred_path, sep="\t", index_col=0, dtype={0: str})
    pred.index = pred.index.astype(str)
    best = record["best"]
    prob = f"{best}_prob" if f"{best}_prob" in pred else "radscore_prob"
    threshold = float(record["thresholds"].get(best if prob != "radscore_prob" else "radscore"))
    order = cohort_order(pred["cohort"])
    pred = pred.assign(_c=pred["cohort"].map({c: i for i, c in enumerate(order)}))
    pred = pred.sort_values(["_c"], kind="stable").drop(columns="_c")
    payload: dict[str, Any] = {
        "model": {"label": LABELS.get(best, best), "threshold": threshold},
        "cohorts": order,
        "patients": {
            "id": pred.index.tolist(),
            "cohort": pred["cohort"].astype(str).tolist(),
            "center": pred["center"].fillna("").astype(str).tolist() if "center" in pred
            else [""] * len(pred),
            "lnm": [None if pd.isna(v) else int(v) for v in pred["lnm"]],
            "score": _round(pred["rad_score"]),
            "prob": _round(pred[prob]),
        },
        "images": {}, "habitats": None, "rna": None,
    }
    hab_dir = run_dir / "habitats"
    if (hab_dir / "habitats.tsv").is_file():
        table = pd.read_csv(hab_dir / "habitats.tsv", sep="\t", dtype={"patient_id": str})
        k = int(json.loads((hab_dir / "stability.json").read_text(encoding="utf-8"))["k"])
        hu = json.loads((hab_dir / "model.json").read_text(encoding="utf-8")).get("centroids_hu", [])
        fractions = table.set_index("patient_id")[[f"fraction_H{h}" for h in range(1, k + 1)]]
        payload["habitats"] = {
            "k": k, "colours": [PALETTE[h % len(PALETTE)] for h in range(k)],
            "mean_hu": _round(hu, 4),
            "fractions": [_round(fractions.loc[p]) if p in fractions.index else None
                          for p in pred.index],
        }
        thumbs = {p.stem for p in (hab_dir / "thumbs").glob("*.npz")} if (hab_dir / "thumbs").is_dir() else set()
        chosen = choose_image_patients(pred, prob, threshold, available=thumbs, limit=max_images)
        payload["images"] = _images(hab_dir, chosen)
    payload["rna"] = _rna(run_dir)
    return payload


def _rna(run_dir: Path) -> dict[str, Any] | None:
    fractions_path = run_dir / "deconvolve" / "fractions.tsv"
    scores_path = run_dir / "gsea" / "pathway_scores.tsv"
    linked_path = run_dir / "link" / "linked.tsv"
    if not linked_path.is_file():
        return None
    linked = pd.read_csv(linked_path, sep="\t", dtype=str)
    out: dict[str, Any] = {"barcode": dict(zip(linked["patient"], linked["barcode"], strict=True))}
    if fractions_path.is_file():
        fractions = pd.read_csv(fractions_path, sep="\t", dtype={"sample": str, "patient": str})
        types = [c for c in fractions.columns if c not in ("sample", "patient", "rad_score",
                                                           "rad_group")]
        out["cell_types"] = types
        out["fractions"] = _matrix(fractions, "patient", types)
    if scores_path.is_file():
        scores = pd.read_csv(scores_path, sep="\t", dtype={"sample": str})
        scores["patient"] = scores["sample"].map(dict(zip(linked["barcode"], linked["patient"],
                                                          strict=True)))
        names = [c for c in scores.columns if c not in ("sample", "patient")]
        out["pathways"] = names
        out["scores"] = _matrix(scores, "patient", names)
    return out


def explorer_section(run_dir: str | Path, *, max_images: int = 60) -> Section | None:
    """The 'Patient explorer' section, or None before the model stage has run."""
    payload = explorer_payload(run_dir, max_images=max_images)
    if payload is None:
        return None
    n_img = len(payload["images"])
    return Section(id="explorer", title="Patient explorer", blocks=[
        TextBlock(f"Search any of the {len(payload['patients']['id'])} patients, or click a "
                  "point in the rad-score plot below (or in any per-patient plot of the report). "
                  f"CT slices are stored for {n_img} patients (per cohort the highest- and "
                  "lowest-risk and the most confidently misclassified, then a random sample; "
                  "report.explorer_images sets how many) to bound the file size."),
        ExplorerBlock(payload)])
