"""CT images from NRRD, NIfTI, MHA/MHD (SimpleITK) or a DICOM folder, in HU."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from ..errors import InputFileError
from .dicom import read_dicom_series

IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def check_complete(path: Path) -> None:
    """Refuse a gzip-compressed image whose stream ends early.

    ITK's NIfTI reader fills what a truncated ``.nii.gz`` lacks with zeros and reports nothing
    (measured: a file cut to a third read as a volume two-thirds zero). Decompressing the stream
    once, in chunks, finds the truncation; a plain ``.nii`` is checked against the data size its
    header announces.
    """
    import zlib

    name = path.name.lower()
    if name.endswith(".gz"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                try:
                    inflater.decompress(chunk, 1 << 24)
                    while inflater.unconsumed_tail:
                        inflater.decompress(inflater.unconsumed_tail, 1 << 24)
                except zlib.error as exc:
                    msg = f"{path}: the gzip stream is corrupt ({exc}); download or export it again"
                    raise InputFileError(msg) from None
                if inflater.eof:
                    break
        if not inflater.eof:
            msg = (f"{path}: the file is truncated (its gzip stream ends before the end-of-stream "
                   "marker); download or export it again")
            raise InputFileError(msg)
    elif name.endswith(".nii"):
        import numpy as np

        header = path.read_bytes()[:352]
        if len(header) < 348:
            msg = f"{path}: not a NIfTI file (shorter than its 348-byte header)"
            raise InputFileError(msg)
        for order in ("<", ">"):
            if int(np.frombuffer(header[:4], dtype=f"{order}i4")[0]) == 348:
                dims = np.frombuffer(header[40:56], dtype=f"{order}i2")
                bitpix = int(np.frombuffer(header[72:74], dtype=f"{order}i2")[0])
                offset = int(np.frombuffer(header[108:112], dtype=f"{order}f4")[0])
                n = int(np.prod([max(int(d), 1) for d in dims[1:1 + max(min(int(dims[0]), 7), 0)]]))
                expected = offset + n * bitpix // 8
                if path.stat().st_size < expected:
                    msg = (f"{path}: the file is truncated ({path.stat().st_size} bytes; its header "
                           f"announces {expected}); download or export it again")
                    raise InputFileError(msg)
                return
        msg = f"{path}: not a NIfTI-1 file (sizeof_hdr is not 348)"
        raise InputFileError(msg)


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
    check_complete(path)
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
