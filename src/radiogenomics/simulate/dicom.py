"""The simulator's own DICOM writers (pydicom): a CT series and a binary DICOM-SEG.

Written independently of the suite's readers so that a misreading of the format cannot hide on
both sides of a test. UIDs are derived from the seed and patient, so files are reproducible.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
STUDY_DATE = "20240115"


def uid(*parts: object) -> str:
    """A deterministic UID in the UUID-derived ``2.25.`` form (DICOM PS3.5 B.2) from ``parts``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return f"2.25.{uuid.UUID(bytes=digest[:16], version=4).int}"


def _file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("radiogenomics-simulator")
    meta.ImplementationVersionName = "RGSIM"
    return meta


def _patient_module(ds: Dataset, phi: dict[str, str]) -> None:
    ds.PatientName = phi["PatientName"]
    ds.PatientID = phi["PatientID"]
    ds.PatientBirthDate = phi["PatientBirthDate"]
    ds.PatientSex = phi["PatientSex"]
    ds.InstitutionName = phi["InstitutionName"]
    ds.StudyDate = STUDY_DATE
    ds.StudyTime = "101500"
    ds.AccessionNumber = phi["AccessionNumber"]
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"


def write_ct_series(
    folder: Path,
    image: np.ndarray,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    phi: dict[str, str],
    key: str,
    rng: np.random.Generator,
) -> dict[str, object]:
    """Write ``image`` (int16 HU, numpy order z, y, x) as one CT file per slice.

    Stored values are ``HU + 1024`` (unsigned) with RescaleIntercept -1024, RescaleSlope 1. File
    names are random, and slices are written in shuffled order, so a reader must sort by
    position along the slice normal. Returns the UIDs a segmentation needs to reference.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid, frame_uid = uid(key, "study"), uid(key, "ct-series"), uid(key, "for")
    sx, sy, sz = spacing
    instances = []
    order = rng.permutation(image.shape[0])
    for k in order:
        sop_uid = uid(key, "ct", int(k))
        ds = Dataset()
        ds.file_meta = _file_meta(CT_IMAGE_STORAGE, sop_uid)
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        _patient_module(ds, phi)
        ds.Modality = "CT"
        ds.Manufacturer = "SyntheticScanner"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SeriesDescription = "Neck CE 2.5mm"
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.InstanceNumber = int(k) + 1
        ds.ImagePositionPatient = [f"{origin[0]:.4f}", f"{origin[1]:.4f}", f"{origin[2] + k * sz:.4f}"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceThickness = f"{sz:g}"
        ds.PixelSpacing = [f"{sy:g}", f"{sx:g}"]
        ds.KVP = "120"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = image.shape[1], image.shape[2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        stored = (image[k].astype(np.int32) + 1024).clip(0, 4095).astype(np.uint16)
        ds.PixelData = stored.tobytes()
        name = uid(key, "file", int(k)).split(".")[-1][:16] + ".dcm"
        pydicom.dcmwrite(folder / name, ds, enforce_file_format=True)
        instances.append((int(k), sop_uid))
    instances.sort()
    return {
        "study_uid": study_uid,
        "series_uid": series_uid,
        "frame_uid": frame_uid,
        "instances": [s for _, s in instances],
    }


def write_seg(
    path: Path,
    mask: np.ndarray,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    phi: dict[str, str],
    key: str,
    ct: dict[str, object],
    label: str = "GTV",
) -> None:
    """Write a binary DICOM-SEG of ``mask`` (numpy order z, y, x), one frame per CT slice."""
    sx, sy, sz = spacing
    sop_uid = uid(key, "seg")
    ds = Dataset()
    ds.file_meta = _file_meta(SEGMENTATION_STORAGE, sop_uid)
    ds.SOPClassUID = SEGMENTATION_STORAGE
    ds.SOPInstanceUID = sop_uid
    _patient_module(ds, phi)
    ds.Modality = "SEG"
    ds.Manufacturer = "radiogenomics simulator"
    ds.ManufacturerModelName = "rgsim"
    ds.DeviceSerialNumber = "1"
    ds.SoftwareVersions = "1"
    ds.StudyInstanceUID = ct["study_uid"]
    ds.SeriesInstanceUID = uid(key, "seg-series")
    ds.SeriesNumber = 300
    ds.SeriesDescription = "Tumour segmentation"
    ds.FrameOfReferenceUID = ct["frame_uid"]
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = STUDY_DATE, "120000"
    ds.ContentLabel = "TUMOUR"
    ds.ContentDescription = "Primary tumour"
    ds.ContentCreatorName = "Synthetic^Reader"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = mask.shape[1], mask.shape[2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    ds.SegmentationType = "BINARY"
    ds.NumberOfFrames = mask.shape[0]

    seg = Dataset()
    seg.SegmentNumber = 1
    seg.SegmentLabel = label
    seg.SegmentAlgorithmType = "MANUAL"
    category = Dataset()
    category.CodeValue, category.CodingSchemeDesignator, category.CodeMeaning = (
        "49755003", "SCT", "Morphologically Altered Structure")
    seg.SegmentedPropertyCategoryCodeSequence = DicomSequence([category])
    prop = Dataset()
    prop.CodeValue, prop.CodingSchemeDesignator, prop.CodeMeaning = "108369006", "SCT", "Neoplasm"
    seg.SegmentedPropertyTypeCodeSequence = DicomSequence([prop])
    ds.SegmentSequence = DicomSequence([seg])

    dim_org = uid(key, "dim-org")
    ds.DimensionOrganizationSequence = DicomSequence([Dataset()])
    ds.DimensionOrganizationSequence[0].DimensionOrganizationUID = dim_org
    dims = []
    for pointer, group in ((0x0062000B, 0x0062000A), (0x00200032, 0x00209113)):
        d = Dataset()
        d.DimensionOrganizationUID = dim_org
        d.DimensionIndexPointer = pointer
        d.FunctionalGroupPointer = group
        dims.append(d)
    ds.DimensionIndexSequence = DicomSequence(dims)

    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = DicomSequence([orient])
    measures = Dataset()
    measures.PixelSpacing = [f"{sy:g}", f"{sx:g}"]
    measures.SliceThickness = f"{sz:g}"
    measures.SpacingBetweenSlices = f"{sz:g}"
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])

    frames = []
    instances = list(ct["instances"])  # type: ignore[call-overload]
    for k in range(mask.shape[0]):
        frame = Dataset()
        content = Dataset()
        content.DimensionIndexValues = [1, k + 1]
        frame.FrameContentSequence = DicomSequence([content])
        pos = Dataset()
        pos.ImagePositionPatient = [f"{origin[0]:.4f}", f"{origin[1]:.4f}", f"{origin[2] + k * sz:.4f}"]
        frame.PlanePositionSequence = DicomSequence([pos])
        ident = Dataset()
        ident.ReferencedSegmentNumber = 1
        frame.SegmentIdentificationSequence = DicomSequence([ident])
        derivation = Dataset()
        source = Dataset()
        source.ReferencedSOPClassUID = CT_IMAGE_STORAGE
        source.ReferencedSOPInstanceUID = instances[k]
        purpose = Dataset()
        purpose.CodeValue, purpose.CodingSchemeDesignator, purpose.CodeMeaning = (
            "121322", "DCM", "Source image for image processing operation")
        source.PurposeOfReferenceCodeSequence = DicomSequence([purpose])
        derivation.SourceImageSequence = DicomSequence([source])
        frame.DerivationImageSequence = DicomSequence([derivation])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)

    ref_series = Dataset()
    ref_series.SeriesInstanceUID = ct["series_uid"]
    refs = []
    for sop in instances:
        ref = Dataset()
        ref.ReferencedSOPClassUID = CT_IMAGE_STORAGE
        ref.ReferencedSOPInstanceUID = sop
        refs.append(ref)
    ref_series.ReferencedInstanceSequence = DicomSequence(refs)
    ds.ReferencedSeriesSequence = DicomSequence([ref_series])

    bits = np.packbits(mask.astype(np.uint8).reshape(-1), bitorder="little")
    data = bits.tobytes()
    ds.PixelData = data + (b"\x00" if len(data) % 2 else b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
