"""DICOM CT series: choose the series, sort slices along the slice normal, apply the rescale,
check the spacing. Only geometry and pixel data leave this module (no identifying tags)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..errors import InputFileError

#: relative tolerance on the spacing between consecutive slices
SPACING_TOLERANCE = 0.01


@dataclass(frozen=True)
class _Slice:
    path: Path
    position: float
    ipp: tuple[float, float, float]
    ds: Any


def _geometry(ds, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    try:
        iop = np.array([float(v) for v in ds.ImageOrientationPatient])
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        spacing = tuple(float(v) for v in ds.PixelSpacing)
    except (AttributeError, TypeError, ValueError) as exc:
        msg = (f"{path}: DICOM slice lacks ImageOrientationPatient, ImagePositionPatient or "
               "PixelSpacing; the slice cannot be placed in space")
        raise InputFileError(msg) from exc
    return iop, ipp, spacing  # type: ignore[return-value]


def list_series(folder: Path) -> dict[str, list[Path]]:
    """DICOM files under ``folder`` (recursively) grouped by SeriesInstanceUID; other files are
    ignored."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    series: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True,
                                 specific_tags=["SeriesInstanceUID", "Modality"])
        except (InvalidDicomError, OSError, EOFError, ValueError):
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", ""))
        if uid and getattr(ds, "Modality", "CT") != "SEG" and getattr(ds, "Modality", "") != "RTSTRUCT":
            series[uid].append(path)
    return dict(series)


def read_dicom_series(folder: str | Path, series_uid: str | None = None, *,
                      allow_resample: bool = False) -> sitk.Image:
    """Read a CT series from a folder into a SimpleITK image in HU (int16 when the rescale gives
    integers, else float32).

    Parameters
    ----------
    folder
        A folder holding one or several series (searched recursively).
    series_uid
        Which series to read; by default the one with the most slices.
    allow_resample
        With non-uniform slice spacing or missing slices, interpolate linearly onto a uniform
        grid (the median spacing) instead of refusing the series.

    Raises
    ------
    InputFileError
        No DICOM series, an unknown ``series_uid``, slices with different orientation or size,
        missing RescaleSlope/RescaleIntercept, or non-uniform spacing (unless allowed).
    """
    import pydicom

    folder = Path(folder)
    if not folder.is_dir():
        msg = f"{folder}: DICOM folder not found"
        raise InputFileError(msg)
    series = list_series(folder)
    if not series:
        msg = f"{folder}: no DICOM image series found"
        raise InputFileError(msg)
    if series_uid is not None:
        if series_uid not in series:
            msg = (f"{folder}: no series with SeriesInstanceUID {series_uid}; "
                   f"found {sorted(series)}")
            raise InputFileError(msg)
        files = series[series_uid]
    else:
        most = max(len(f) for f in series.values())
        tied = sorted(uid for uid, f in series.items() if len(f) == most)
        if len(tied) > 1:
            msg = (f"{folder}: {len(tied)} series with {most} slices each ({', '.join(tied)}); "
                   "which one is the CT is ambiguous: keep one series per folder")
            raise InputFileError(msg)
        files = series[tied[0]]

    headers = [pydicom.dcmread(p) for p in files]
    iop, _, pixel_spacing = _geometry(headers[0], files[0])
    normal = np.cross(iop[:3], iop[3:])
    slices = []
    for ds, path in zip(headers, files, strict=True):
        this_iop, ipp, spacing = _geometry(ds, path)
        if not np.allclose(this_iop, iop, atol=1e-4) or not np.allclose(spacing, pixel_spacing, rtol=1e-4):
            msg = f"{path}: slice orientation or pixel spacing differs from the rest of the series"
            raise InputFileError(msg)
        slices.append(_Slice(path, float(ipp @ normal), tuple(ipp), ds))  # type: ignore[arg-type]
    slices.sort(key=lambda s: s.position)
    positions = np.array([s.position for s in slices])
    if len(slices) < 2:
        msg = f"{folder}: a CT series needs at least 2 slices, found {len(slices)}"
        raise InputFileError(msg)
    gaps = np.diff(positions)
    if np.any(gaps <= 1e-6):
        msg = f"{folder}: two slices share the position {positions[np.argmin(gaps)]:.3f} mm"
        raise InputFileError(msg)
    spacing_z = float(np.median(gaps))
    uniform = np.all(np.abs(gaps - spacing_z) <= SPACING_TOLERANCE * spacing_z)

    planes = []
    integral = True
    for s in slices:
        ds = s.ds
        if "RescaleSlope" not in ds or "RescaleIntercept" not in ds:
            msg = (f"{s.path}: RescaleSlope/RescaleIntercept missing; stored values cannot be "
                   "converted to Hounsfield units (a CT slice must carry both)")
            raise InputFileError(msg)
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        integral &= slope.is_integer() and intercept.is_integer()
        planes.append(ds.pixel_array.astype(np.float32) * slope + intercept)
    shapes = {p.shape for p in planes}
    if len(shapes) != 1:
        msg = f"{folder}: slices have different sizes {sorted(shapes)}"
        raise InputFileError(msg)
    volume = np.stack(planes)

    if not uniform:
        worst = int(np.argmax(np.abs(gaps - spacing_z)))
        detail = (f"slice spacing is not uniform: {gaps[worst]:.3f} mm between positions "
                  f"{positions[worst]:.3f} and {positions[worst + 1]:.3f} (median "
                  f"{spacing_z:.3f} mm)" + ("; a slice is probably missing"
                                              if gaps[worst] > 1.5 * spacing_z else ""))
        if not allow_resample:
            msg = f"{folder}: {detail}. Set allow_resample to interpolate onto a uniform grid."
            raise InputFileError(msg)
        target = positions[0] + spacing_z * np.arange(int(round((positions[-1] - positions[0]) / spacing_z)) + 1)
        idx = np.clip(np.searchsorted(positions, target) - 1, 0, len(positions) - 2)
        w = ((target - positions[idx]) / (positions[idx + 1] - positions[idx]))[:, None, None]
        volume = (1 - w) * volume[idx] + w * volume[idx + 1]

    fits = integral and uniform and volume.min() >= -32768 and volume.max() <= 32767
    image = sitk.GetImageFromArray(volume.astype(np.int16 if fits else np.float32))
    image.SetSpacing((pixel_spacing[1], pixel_spacing[0], spacing_z))
    image.SetOrigin(slices[0].ipp)
    image.SetDirection(tuple(np.column_stack([iop[:3], iop[3:], normal]).ravel()))
    return image
