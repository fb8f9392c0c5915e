"""Small imaging inputs the tests build themselves: a 32^3 phantom with a spherical tumour,
written as NRRD, as a DICOM series (shuffled, with identifying tags) and with an RTSTRUCT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from radiogenomics.simulate.dicom import _file_meta, uid, write_ct_series

SPACING = (0.9, 0.9, 2.0)
ORIGIN = (-14.4, -14.4, -31.0)
RADIUS_MM = 9.0
PHI = {"PatientName": "TESTER^SECRET^NAME", "PatientID": "MRN7654321",
       "PatientBirthDate": "19510203", "PatientSex": "F",
       "InstitutionName": "Hidden Hospital", "AccessionNumber": "ACC99999999"}


def phantom(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 32^3 HU volume (numpy z, y, x) with a textured spherical tumour, and its mask."""
    rng = np.random.default_rng(seed)
    shape = (32, 32, 32)
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    pz, py, px = ((zz - 15.5) * SPACING[2], (yy - 15.5) * SPACING[1], (xx - 15.5) * SPACING[0])
    sphere = pz**2 + py**2 + px**2 < RADIUS_MM**2
    image = np.where(np.hypot(px, py) < 13.5, 45.0, -100.0) + rng.normal(0, 8, shape)
    image[sphere] = 90 + 25 * rng.standard_normal(sphere.sum())
    return np.round(image).astype(np.int16), sphere.astype(np.uint8)


def write_nrrd(path: Path, array: np.ndarray, spacing=SPACING, origin=ORIGIN) -> Path:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(img, str(path), useCompression=True)
    return path


def write_dicom(folder: Path, image: np.ndarray, key: str = "case", seed: int = 0) -> dict:
    """The simulator's CT writer (shuffled order, random names); InstanceNumber scrambled too."""
    ct = write_ct_series(folder, image, SPACING, ORIGIN, PHI, key, np.random.default_rng(seed))
    files = sorted(folder.iterdir())
    numbers = np.random.default_rng(seed + 1).permutation(len(files)) + 1
    for f, n in zip(files, numbers, strict=True):
        ds = pydicom.dcmread(f)
        ds.InstanceNumber = int(n)
        ds.save_as(f, enforce_file_format=True)
    return ct


def write_rtstruct(path: Path, ct: dict, roi_name: str = "GTV", n_vertices: int = 90) -> None:
    """An RTSTRUCT with the analytic circle of the sphere on every slice it crosses."""
    ds = Dataset()
    sop = uid("rtstruct", path)
    ds.file_meta = _file_meta("1.2.840.10008.5.1.4.1.1.481.3", sop)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.SOPInstanceUID = sop
    ds.Modality = "RTSTRUCT"
    ds.PatientName = PHI["PatientName"]
    ds.PatientID = PHI["PatientID"]
    ds.StudyInstanceUID = ct["study_uid"]
    ds.SeriesInstanceUID = uid("rtstruct-series", path)
    ds.StructureSetLabel = "test"
    roi = Dataset()
    roi.ROINumber = 7
    roi.ROIName = roi_name
    roi.ReferencedFrameOfReferenceUID = ct["frame_uid"]
    other = Dataset()
    other.ROINumber = 8
    other.ROIName = "BODY"
    other.ReferencedFrameOfReferenceUID = ct["frame_uid"]
    ds.StructureSetROISequence = DicomSequence([roi, other])
    contours = []
    centre = np.array(ORIGIN) + 15.5 * np.array(SPACING)
    for k in range(32):
        z = ORIGIN[2] + k * SPACING[2]
        r2 = RADIUS_MM**2 - (z - centre[2]) ** 2
        if r2 <= 0:
            continue
        t = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
        pts = np.column_stack([centre[0] + np.sqrt(r2) * np.cos(t),
                               centre[1] + np.sqrt(r2) * np.sin(t), np.full_like(t, z)])
        c = Dataset()
        c.ContourGeometricType = "CLOSED_PLANAR"
        c.NumberOfContourPoints = n_vertices
        c.ContourData = [f"{v:.4f}" for v in pts.ravel()]
        contours.append(c)
    rc = Dataset()
    rc.ReferencedROINumber = 7
    rc.ContourSequence = DicomSequence(contours)
    ds.ROIContourSequence = DicomSequence([rc])
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
