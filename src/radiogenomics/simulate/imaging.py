"""Write the imaging cohorts: NRRD image + mask for most cases, DICOM CT + DICOM-SEG for one
external centre, a habitat truth map per case, and the study's ``cases.tsv``."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from .._logging import progress
from ._scales import SCANNERS, VOLUME_SHAPE
from .ct import render_case
from .dicom import write_ct_series, write_seg

SURNAMES = ("MILLER", "GARCIA", "NOVAK", "SILVA", "KOWALSKI", "ANDERSEN", "ROSSI", "MARTIN")
GIVEN = ("ANNA", "JONAS", "MARIA", "PETER", "LENA", "DAVID", "SOFIA", "KARL")


def case_rng(seed: int, patient_index: int) -> np.random.Generator:
    """The generator of one patient's image: independent of the order cases are written in."""
    return np.random.default_rng([seed, 101, patient_index])


def _origin(spacing: tuple[float, float, float], rng: np.random.Generator) -> tuple[float, float, float]:
    nz, ny, nx = VOLUME_SHAPE
    table = float(np.round(rng.uniform(-120.0, -60.0), 1))
    return (-(nx - 1) / 2 * spacing[0], -(ny - 1) / 2 * spacing[1], table)


def _write_nrrd(path: Path, array: np.ndarray, spacing: tuple[float, float, float],
                origin: tuple[float, float, float]) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)


def synthetic_phi(seed: int, index: int) -> dict[str, str]:
    """Identifying DICOM values for one patient (synthetic), so de-identification can be tested."""
    rng = np.random.default_rng([seed, 202, index])
    year, month, day = rng.integers(1938, 1976), rng.integers(1, 13), rng.integers(1, 29)
    return {
        "PatientName": f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN)}^Q{index:04d}",
        "PatientID": f"MRN{rng.integers(10**6, 10**7):07d}",
        "PatientBirthDate": f"{year:04d}{month:02d}{day:02d}",
        "PatientSex": str(rng.choice(["M", "F"])),
        "InstitutionName": "",
        "AccessionNumber": f"ACC{rng.integers(10**7, 10**8):08d}",
    }


def _write_one(job: dict[str, Any]) -> dict[str, Any]:
    scanner = SCANNERS[job["scanner"]]
    rng = case_rng(job["seed"], job["index"])
    image, mask, habitats, tumour = render_case(job["latent"], scanner, rng)
    origin = _origin(scanner.spacing, rng)
    root: Path = job["root"]
    pid = job["patient_id"]
    row: dict[str, Any] = {"patient_id": pid}
    if scanner.file_format == "dicom":
        phi = synthetic_phi(job["seed"], job["index"])
        phi["InstitutionName"] = scanner.institution
        key = f"{job['seed']}/{pid}"
        ct = write_ct_series(root / "imaging" / "dicom" / pid / "ct", image, scanner.spacing,
                             origin, phi, key, rng)
        write_seg(root / "imaging" / "dicom" / pid / "seg" / "tumour_seg.dcm", mask,
                  scanner.spacing, origin, phi, key, ct)
        row.update(image=f"dicom/{pid}/ct", mask=f"dicom/{pid}/seg/tumour_seg.dcm",
                   image_format="dicom", mask_format="dicom-seg",
                   series_uid=ct["series_uid"], **{f"phi_{k}": v for k, v in phi.items()})
    else:
        _write_nrrd(root / "imaging" / "nrrd" / pid / "image.nrrd", image, scanner.spacing, origin)
        _write_nrrd(root / "imaging" / "nrrd" / pid / "mask.nrrd", mask, scanner.spacing, origin)
        row.update(image=f"nrrd/{pid}/image.nrrd", mask=f"nrrd/{pid}/mask.nrrd",
                   image_format="nrrd", mask_format="nrrd")
    _write_nrrd(root / "truth" / "habitat_maps" / f"{pid}.nrrd", habitats, scanner.spacing, origin)
    n_voxels = int(mask.sum())
    row.update(
        tumour_voxels=n_voxels,
        tumour_volume_ml=round(n_voxels * float(np.prod(scanner.spacing)) / 1000.0, 4),
        frac_enhancing=round(float((habitats == 1).sum()) / max(n_voxels, 1), 6),
        frac_necrotic=round(float((habitats == 2).sum()) / max(n_voxels, 1), 6),
        frac_rim=round(float((habitats == 3).sum()) / max(n_voxels, 1), 6),
        irregularity=round(tumour.irregularity, 6),
        heterogeneity=round(tumour.heterogeneity, 6),
        tumour_mean_hu=round(float(image[mask > 0].mean()), 4),
    )
    return row


def write_imaging(root: Path, patients: pd.DataFrame, seed: int, n_jobs: int | None = None) -> pd.DataFrame:
    """Render and write every patient's CT; returns per-patient image truth (one row each).

    ``patients`` needs ``patient_id``, ``center`` (a key of ``SCANNERS``) and ``latent``.
    """
    jobs = [
        {"root": root, "seed": seed, "index": i, "patient_id": pid, "scanner": sc, "latent": float(z)}
        for i, (pid, sc, z) in enumerate(
            zip(patients["patient_id"], patients["scanner"], patients["latent"], strict=True)
        )
    ]
    n_jobs = n_jobs or min(os.cpu_count() or 1, 4)
    if n_jobs > 1 and len(jobs) > 8:
        with ProcessPoolExecutor(n_jobs) as pool:
            rows = list(progress(pool.map(_write_one, jobs, chunksize=8),
                                 description="simulating CT", total=len(jobs)))
    else:
        rows = [_write_one(j) for j in progress(jobs, description="simulating CT")]
    return pd.DataFrame(rows)
