"""Stage ``robustness``: the intraclass correlation of every whole-tumour feature under
perturbations of the segmentation and the image, on training patients only.

Each chosen training patient is extracted seven times with the analysis' pyradiomics parameters:
as is, with the mask eroded and dilated by one voxel (in-plane cross), with the mask shifted by
one voxel in-plane, with Gaussian noise added to the CT (Zwanenburg et al., Sci Rep 2019,
perturbation-based robustness), and with the CT numbers shifted up and down by ``hu_shift`` (the
scanner-to-scanner accuracy of CT numbers: the ACR accreditation tolerance for water is ±7 HU).
ICC(1,1) over the seven versions gives ``icc.tsv``; the model stage keeps features with ICC ≥ its
threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._files import atomic_write_tsv
from .._logging import logger, progress
from ..errors import UserError
from ..pipeline import StageContext
from .features import icc_1_1

PERTURBATIONS = ("original", "erode", "dilate", "shift", "noise", "hu_up", "hu_down")


def _perturb(image, mask, kind: str, noise_hu: float, seed: int,  # noqa: ANN001, ANN202
             hu_shift: float = 0.0):
    import SimpleITK as sitk

    if kind == "original":
        return image, mask
    if kind in ("hu_up", "hu_down"):
        arr = sitk.GetArrayFromImage(image).astype(np.float32)
        out = sitk.GetImageFromArray(arr + (hu_shift if kind == "hu_up" else -hu_shift))
        out.CopyInformation(image)
        return out, mask
    if kind in ("erode", "dilate"):
        f = sitk.BinaryErodeImageFilter() if kind == "erode" else sitk.BinaryDilateImageFilter()
        f.SetKernelRadius((1, 1, 0))
        f.SetKernelType(sitk.sitkCross)
        f.SetForegroundValue(1)
        out = f.Execute(mask)
        if kind == "erode" and sitk.GetArrayViewFromImage(out).sum() < 8:
            out = mask  # too small to erode: keep the original rather than lose the case
        return image, out
    if kind == "shift":
        arr = sitk.GetArrayFromImage(mask)
        shifted = np.zeros_like(arr)
        shifted[:, 1:, 1:] = arr[:, :-1, :-1]
        out = sitk.GetImageFromArray(shifted)
        out.CopyInformation(mask)
        return image, out
    rng = np.random.default_rng(seed)
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    noisy = sitk.GetImageFromArray(arr + rng.normal(0, noise_hu, arr.shape).astype(np.float32))
    noisy.CopyInformation(image)
    return noisy, mask


def perturbed_features(job: dict[str, Any]) -> dict[str, Any]:
    """Features of one case under each perturbation (a failed case returns ``status=failed``)."""
    from ..imaging.extract import _extractor, load_checked_case

    pid = job["patient_id"]
    try:
        image, mask, _ = load_checked_case(job)
        extractor = _extractor(job["params"], True)
        rows = []
        for k, kind in enumerate(PERTURBATIONS):
            img, msk = _perturb(image, mask, kind, job["noise_hu"], job["seed"] + k,
                                job["hu_shift"])
            result = extractor.execute(img, msk, label=1)
            rows.append({n: float(np.asarray(v)) for n, v in result.items()
                         if not n.startswith("diagnostics_")})
        return {"patient_id": pid, "status": "ok", "rows": rows}
    except Exception as exc:  # one case's failure costs only that case
        return {"patient_id": pid, "status": "failed", "reason": f"{exc.__class__.__name__}: {exc}"}


def feature_icc(results: list[dict[str, Any]]) -> pd.DataFrame:
    """ICC(1,1) per feature from :func:`perturbed_features` results."""
    ok = [r for r in results if r["status"] == "ok"]
    if len(ok) < 3:
        msg = f"the robustness filter needs at least 3 extracted training patients, got {len(ok)}"
        raise UserError(msg)
    names = sorted(set.intersection(*(set(row) for r in ok for row in r["rows"])))
    values = np.array([[[row[n] for n in names] for row in r["rows"]] for r in ok])
    icc = icc_1_1(values)
    return pd.DataFrame({"feature_id": names, "icc": icc, "n_patients": len(ok)})


def run(ctx: StageContext) -> None:
    """Perturbation ICC on a fixed random subset of the training cohort → ``icc.tsv``."""
    from ..imaging.extract import DEFAULT_PARAMS, case_jobs, run_jobs
    from ..imaging.stage import cases_table, qc_settings

    cfg, ecfg = ctx.config.robustness, ctx.config.extract
    cases = cases_table(ctx)
    train = cases[cases.get("cohort", pd.Series(dtype=str)) == cfg.train_cohort]
    if train.empty:
        msg = f"the case table has no '{cfg.train_cohort}' cohort (column 'cohort'); set robustness.train_cohort"
        raise UserError(msg)
    rng = np.random.default_rng(cfg.seed)
    n = min(cfg.patients, len(train))
    chosen = train.iloc[np.sort(rng.choice(len(train), size=n, replace=False))]
    jobs = case_jobs(chosen, mask_label=ecfg.mask_label, qc=qc_settings(ctx.config),
                     allow_resample=ecfg.allow_slice_resample)
    params = str(ecfg.params or DEFAULT_PARAMS)
    for i, job in enumerate(jobs):
        job.update(params=params, noise_hu=cfg.noise_hu, hu_shift=cfg.hu_shift,
                   seed=cfg.seed * 1000 + i)
    results = list(progress(run_jobs(perturbed_features, jobs, ecfg.n_jobs or 2, ecfg.executor,
                                     ecfg.scheduler_address),
                            description="perturbation ICC", total=len(jobs)))
    failed = [r for r in results if r["status"] != "ok"]
    for r in failed:
        logger.warning("robustness: %s skipped (%s)", r["patient_id"], r["reason"])
    table = feature_icc(results)
    atomic_write_tsv(ctx.out_dir / "icc.tsv", table)
    atomic_write_tsv(ctx.out_dir / "patients.tsv",
                     pd.DataFrame({"patient_id": [r["patient_id"] for r in results],
                                   "status": [r["status"] for r in results],
                                   "reason": [r.get("reason", "") for r in results]}))
    logger.info("ICC over %d patients: %d of %d features ≥ %.2f", int(table["n_patients"].iloc[0]),
                int((table["icc"] >= ctx.config.model.icc_threshold).sum()), len(table),
                ctx.config.model.icc_threshold)

