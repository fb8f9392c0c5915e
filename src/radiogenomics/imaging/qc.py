"""Per-case quality control before extraction: geometry, label, ROI size, HU plausibility.

A mask whose grid differs from the image's by no more than ``geometry_tolerance_mm`` (the largest
distance between corresponding corners of the two grids) is resampled onto the image grid
(nearest neighbour) and the fix is recorded; beyond that the case is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..errors import InputFileError


@dataclass(frozen=True)
class QCSettings:
    """Thresholds of the per-case checks."""

    geometry_tolerance_mm: float = 2.0
    min_roi_voxels: int = 64
    hu_min: float = -1100.0
    hu_max: float = 4000.0


class QCFailure(InputFileError):
    """A case that fails a QC check; ``row`` holds the checks made so far."""

    def __init__(self, message: str, row: dict[str, Any]) -> None:
        super().__init__(message)
        self.row = row


def _corners(image: sitk.Image) -> np.ndarray:
    size = np.array(image.GetSize()) - 1
    return np.array([
        image.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in size * np.array(c)))
        for c in np.ndindex(2, 2, 2)
    ])


def grid_offset_mm(image: sitk.Image, mask: sitk.Image) -> float:
    """Largest distance (mm) between corresponding corner voxel centres of two grids."""
    return float(np.linalg.norm(_corners(image) - _corners(mask), axis=1).max())


def same_grid(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=tol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    )


def check_case(patient_id: str, image: sitk.Image, mask: sitk.Image,
               settings: QCSettings = QCSettings()) -> tuple[sitk.Image, dict[str, Any]]:
    """Run the QC checks; return the (possibly resampled) mask and the QC row.

    Raises
    ------
    QCFailure
        With a message naming the case, the check and the value.
    """
    row: dict[str, Any] = {"patient_id": patient_id}
    row["image_size"] = "x".join(str(v) for v in image.GetSize())
    row["image_spacing_mm"] = "x".join(f"{v:.3g}" for v in image.GetSpacing())
    offset = grid_offset_mm(image, mask)
    row["grid_offset_mm"] = round(offset, 4)
    identical = same_grid(image, mask)
    row["mask_resampled"] = False
    if not identical:
        if offset > settings.geometry_tolerance_mm:
            msg = (f"case {patient_id}: the mask's grid is {offset:.1f} mm away from the image's "
                   f"(tolerance {settings.geometry_tolerance_mm} mm); is it the mask of this image?")
            raise QCFailure(msg, {**row, "status": "fail", "reason": msg})
        mask = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                             sitk.sitkUInt8)
        row["mask_resampled"] = True
    arr = sitk.GetArrayViewFromImage(image)
    m = sitk.GetArrayViewFromImage(mask) > 0
    nonfinite = int((~np.isfinite(arr)).sum())
    row["nonfinite_voxels"] = nonfinite
    row["roi_voxels"] = int(m.sum())
    row["roi_volume_ml"] = round(row["roi_voxels"] * float(np.prod(image.GetSpacing())) / 1000, 4)
    finite = arr[np.isfinite(arr)]
    row["hu_p01"] = float(np.percentile(finite, 1)) if finite.size else float("nan")
    row["hu_p99"] = float(np.percentile(finite, 99)) if finite.size else float("nan")
    row["roi_mean_hu"] = float(arr[m].mean()) if row["roi_voxels"] and not nonfinite else float("nan")

    def fail(msg: str) -> QCFailure:
        return QCFailure(msg, {**row, "status": "fail", "reason": msg})

    if nonfinite:
        raise fail(f"case {patient_id}: the image has {nonfinite} NaN or infinite voxels")
    if row["roi_voxels"] == 0:
        raise fail(f"case {patient_id}: the mask is empty (no voxel with the tumour label)")
    if row["roi_voxels"] < settings.min_roi_voxels:
        raise fail(f"case {patient_id}: the ROI has {row['roi_voxels']} voxels, fewer than "
                   f"min_roi_voxels = {settings.min_roi_voxels}")
    if not (settings.hu_min <= row["hu_p01"] and row["hu_p99"] <= settings.hu_max):
        raise fail(f"case {patient_id}: intensities (1st-99th percentile {row['hu_p01']:.0f} to "
                   f"{row['hu_p99']:.0f}) are not plausible CT Hounsfield units "
                   f"({settings.hu_min:.0f} to {settings.hu_max:.0f})")
    if row["hu_p99"] - row["hu_p01"] < 1.0:
        raise fail(f"case {patient_id}: the image is constant ({row['hu_p01']:.1f})")
    row["status"], row["reason"] = "pass", ""
    return mask, row
