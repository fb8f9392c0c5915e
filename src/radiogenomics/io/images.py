"""CT images from NRRD, NIfTI, MHA/MHD (SimpleITK) or a DICOM folder, in HU."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from ..errors import InputFileError
from .dicom import read_dicom_series

IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def read_image(path: str | Path, *, series_uid: str | None = None,
               allow_resample: bool = False) -> sitk.Image:
    """Read a CT image (a file, or a folder holding a DICOM series).

    File images keep their pixel type (so features equal pyradiomics run on the same file);
    DICOM series are int16 when the rescale gives integers, else float32.

    Raises
    ------
    InputFileError
        The path is missing, has an unsupported extension, or cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        return read_dicom_series(path, series_uid, allow_resample=allow_resample)
    if not path.is_file():
        msg = f"{path}: image not found"
        raise InputFileError(msg)
    name = path.name.lower()
    if not name.endswith(IMAGE_SUFFIXES):
        msg = (f"{path}: unsupported image file; expected one of {', '.join(IMAGE_SUFFIXES)} "
               "or a folder with a DICOM series")
        raise InputFileError(msg)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        msg = f"{path}: cannot read the image ({first[:200]})"
        raise InputFileError(msg) from None
    if image.GetDimension() != 3:
        msg = f"{path}: expected a 3-D volume, got {image.GetDimension()}-D"
        raise InputFileError(msg)
    if image.GetNumberOfComponentsPerPixel() != 1:
        msg = f"{path}: expected a scalar image, got {image.GetNumberOfComponentsPerPixel()} components"
        raise InputFileError(msg)
    return image
