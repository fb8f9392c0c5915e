"""Tumour masks from label images (NRRD/NIfTI/MHA), DICOM-SEG and RTSTRUCT, as binary uint8
SimpleITK images. SEG frames and RTSTRUCT contours are placed on the CT grid by their patient
coordinates."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import SimpleITK as sitk

from ..errors import InputFileError, UserError

F = TypeVar("F", bound=Callable[..., Any])


def _dicom_reader(kind: str) -> Callable[[F], F]:
    """Turn whatever pydicom raises on a damaged file (InvalidDicomError, a missing attribute,
    a short buffer, ...) into an ``InputFileError`` naming the file and the format expected."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def reader(path: str | Path, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(path, *args, **kwargs)
            except UserError:
                raise
            except (MemoryError, RecursionError):
                raise
            except Exception as exc:  # the boundary of a binary format: every failure is the file's
                msg = f"{path}: cannot be read as {kind} ({type(exc).__name__}: {str(exc)[:200]})"
                raise InputFileError(msg) from None
        return reader  # type: ignore[return-value]
    return wrap

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


def _empty_like(reference: sitk.Image) -> np.ndarray:
    return np.zeros(sitk.GetArrayViewFromImage(reference).shape, dtype=np.uint8)


def _to_image(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.CopyInformation(reference)
    return image


def _slice_index(reference: sitk.Image, point: np.ndarray, path: Path) -> int:
    """Index of the reference slice at the physical ``point`` (must fall on a slice)."""
    cont = reference.TransformPhysicalPointToContinuousIndex(tuple(float(v) for v in point))
    k = int(round(cont[2]))
    if abs(cont[2] - k) > 0.1 or not 0 <= k < reference.GetSize()[2]:
        msg = (f"{path}: a plane at z-index {cont[2]:.2f} does not fall on a slice of the CT "
               f"(0..{reference.GetSize()[2] - 1}); is this mask from another series?")
        raise InputFileError(msg)
    return k


@_dicom_reader("a DICOM segmentation (DICOM-SEG)")
def read_dicom_seg(path: str | Path, reference: sitk.Image, segment: int | str | None = None) -> sitk.Image:
    """Rasterise one segment of a binary or fractional DICOM-SEG onto the CT grid.

    ``segment`` is a SegmentNumber or a SegmentLabel; by default the only (or first) segment.
    """
    import pydicom

    path = Path(path)
    ds = pydicom.dcmread(path)
    if str(getattr(ds, "SOPClassUID", "")) != SEG_SOP_CLASS:
        msg = f"{path}: not a DICOM segmentation (SOPClassUID {getattr(ds, 'SOPClassUID', '?')})"
        raise InputFileError(msg)
    segments = {int(s.SegmentNumber): str(getattr(s, "SegmentLabel", "")) for s in ds.SegmentSequence}
    if segment is None:
        number = min(segments)
    elif isinstance(segment, int) or str(segment).isdigit():
        number = int(segment)
    else:
        matches = [n for n, label in segments.items() if label == segment]
        if not matches:
            msg = f"{path}: no segment labelled {segment!r}; segments are {segments}"
            raise InputFileError(msg)
        number = matches[0]
    if number not in segments:
        msg = f"{path}: no segment number {number}; segments are {segments}"
        raise InputFileError(msg)
    frames = ds.pixel_array
    if frames.ndim == 2:
        frames = frames[None]
    if str(getattr(ds, "SegmentationType", "BINARY")) == "FRACTIONAL":
        frames = frames >= (int(getattr(ds, "MaximumFractionalValue", 255)) / 2)
    out = _empty_like(reference)
    if frames.shape[1:] != out.shape[1:]:
        msg = f"{path}: frames are {frames.shape[1:]} pixels, the CT slices {out.shape[1:]}"
        raise InputFileError(msg)
    for i, frame in enumerate(ds.PerFrameFunctionalGroupsSequence):
        if int(frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber) != number:
            continue
        ipp = np.array([float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient])
        k = _slice_index(reference, ipp, path)
        out[k] |= frames[i].astype(bool)
    return _to_image(out, reference)


def _fill_polygon(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Pixels whose centres lie inside the polygon (even-odd rule), vectorised over pixels."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    inside = np.zeros(shape, dtype=bool)
    n = len(rows)
    for i in range(n):
        y1, x1 = rows[i], cols[i]
        y2, x2 = rows[(i + 1) % n], cols[(i + 1) % n]
        if y1 == y2:
            continue
        crosses = (y1 > yy) != (y2 > yy)
        x_at = x1 + (yy - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (xx < x_at)
    return inside


@_dicom_reader("a DICOM RTSTRUCT")
def read_rtstruct(path: str | Path, reference: sitk.Image, roi_name: str | None = None) -> sitk.Image:
    """Rasterise the contours of one ROI of an RTSTRUCT onto the CT grid.

    Contours on one slice combine by the even-odd rule (an inner contour is a hole). ``roi_name``
    picks the ROI by its ROIName; by default the only ROI.
    """
    import pydicom

    path = Path(path)
    ds = pydicom.dcmread(path)
    if str(getattr(ds, "SOPClassUID", "")) != RTSTRUCT_SOP_CLASS:
        msg = f"{path}: not an RTSTRUCT (SOPClassUID {getattr(ds, 'SOPClassUID', '?')})"
        raise InputFileError(msg)
    rois = {int(r.ROINumber): str(r.ROIName) for r in ds.StructureSetROISequence}
    if roi_name is None:
        if len(rois) != 1:
            msg = f"{path}: {len(rois)} ROIs ({sorted(rois.values())}); name the one to use (roi_name)"
            raise InputFileError(msg)
        number = next(iter(rois))
    else:
        matches = [n for n, name in rois.items() if name == roi_name]
        if not matches:
            msg = f"{path}: no ROI named {roi_name!r}; ROIs are {sorted(rois.values())}"
            raise InputFileError(msg)
        number = matches[0]
    out = _empty_like(reference)
    for roi in ds.ROIContourSequence:
        if int(roi.ReferencedROINumber) != number:
            continue
        for contour in getattr(roi, "ContourSequence", []):
            pts = np.array([float(v) for v in contour.ContourData]).reshape(-1, 3)
            idx = np.array([reference.TransformPhysicalPointToContinuousIndex(tuple(p)) for p in pts])
            k = _slice_index(reference, pts[0], path)
            out[k] ^= _fill_polygon(out.shape[1:], idx[:, 1], idx[:, 0]).astype(np.uint8)
    return _to_image(out, reference)


def read_label_image(path: str | Path, label: int | None = 1) -> sitk.Image:
    """A label image (NRRD, NIfTI, MHA) as a binary uint8 mask of ``label`` (any non-zero
    voxel when ``label`` is None)."""
    from .images import read_image

    image = read_image(path)
    arr = sitk.GetArrayViewFromImage(image)
    if not np.all(np.isfinite(arr)):
        msg = f"{path}: the mask contains NaN or infinite values"
        raise InputFileError(msg)
    binary = (arr != 0) if label is None else (arr == label)
    return _to_image(binary, image)


def read_mask(path: str | Path, reference: sitk.Image, *, label: int | None = 1,
              roi: str | None = None) -> sitk.Image:
    """Read a mask of any supported kind; DICOM masks are placed on ``reference``'s grid.

    Label images keep their own geometry (QC compares it with the CT's)."""
    path = Path(path)
    if path.suffix.lower() == ".dcm" or (path.is_file() and _is_dicom(path)):
        import pydicom

        sop = str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"]).get(
            "SOPClassUID", ""))
        if sop == SEG_SOP_CLASS:
            return read_dicom_seg(path, reference, roi)
        if sop == RTSTRUCT_SOP_CLASS:
            return read_rtstruct(path, reference, roi)
        msg = f"{path}: a DICOM file that is neither a SEG nor an RTSTRUCT (SOPClassUID {sop})"
        raise InputFileError(msg)
    return read_label_image(path, label)


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False
