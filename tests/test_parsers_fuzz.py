"""Property tests: every parser given arbitrary bytes returns or raises ``UserError`` (a clean,
typed error naming the file) within a second; never a hang, a crash or another exception.

Each parser is fed random bytes, and random bytes behind the first line of a valid file of its
format (so that the fuzz reaches the code after the header checks).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiogenomics import io
from radiogenomics.config import load_config
from radiogenomics.deconvolution.markers import read_reference
from radiogenomics.errors import UserError
from radiogenomics.imaging.stage import read_cases

STAR_HEADER = (b"# gene-model: GENCODE v36\ngene_id\tgene_name\tgene_type\tunstranded\t"
               b"stranded_first\tstranded_second\ttpm_unstranded\tfpkm_unstranded\t"
               b"fpkm_uq_unstranded\nN_unmapped\t\t\t10\t5\t5\t\t\t\n")
SHEET_HEADER = (b"File ID\tFile Name\tData Category\tData Type\tProject ID\tCase ID\tSample ID\t"
                b"Sample Type\n")
CDR_HEADER = b"\tbcr_patient_barcode\ttype\tage_at_initial_pathologic_diagnosis\tOS\tOS.time\n"

def _reference_image():  # noqa: ANN202
    import SimpleITK as sitk

    return sitk.Image(8, 8, 8, sitk.sitkInt16)


def _dicom_seg(path: Path) -> Any:
    return io.read_dicom_seg(path, _reference_image())


def _rtstruct(path: Path) -> Any:
    return io.read_rtstruct(path, _reference_image())


DICM = b"\0" * 128 + b"DICM"

#: name, file suffix, parser, a valid beginning of the format
PARSERS: list[tuple[str, str, Callable[[Path], Any], bytes]] = [
    ("star_counts", ".tsv", io.read_star_counts, STAR_HEADER),
    ("gdc_manifest", ".txt", io.read_gdc_manifest, b"id\tfilename\tmd5\tsize\tstate\n"),
    ("sample_sheet", ".tsv", io.read_sample_sheet, SHEET_HEADER),
    ("cart_metadata", ".json", io.read_cart_metadata, b'[{"file_id": "x", "associated_entities": '),
    ("gdc_clinical", ".tsv", io.read_gdc_clinical,
     b"cases.case_id\tcases.submitter_id\tdemographic.age_at_index\n"),
    ("tcga_cdr", ".tsv", io.read_tcga_cdr, CDR_HEADER),
    ("biotab", ".txt", io.read_biotab_patient,
     b"bcr_patient_uuid\tbcr_patient_barcode\tgender\nbcr_patient_uuid\tbcr_patient_barcode\t"
     b"gender\nCDE_ID:\tCDE_ID:2003301\tCDE_ID:2200604\n"),
    ("gmt", ".gmt", io.read_gmt, b"SET_A\tdescription\tG1\tG2\n"),
    ("tcia_manifest", ".tcia", io.read_tcia_manifest,
     b"downloadServerUrl=https://public.cancerimagingarchive.net/nbia-download/servlet/\n"
     b"ListOfSeriesToDownload=\n"),
    ("case_table", ".tsv", read_cases, b"patient_id\timage\tmask\n"),
    ("config", ".yaml", load_config, b"name: fuzz\nmodel:\n"),
    ("nrrd", ".nrrd", io.read_image, b"NRRD0004\ntype: short\ndimension: 3\nsizes: 4 4 4\n"),
    ("nifti", ".nii", io.read_image, b"\x5c\x01\x00\x00" + b"\0" * 36 + b"\x03\x00\x04\x00"),
    ("nifti_gz", ".nii.gz", io.read_image, b"\x1f\x8b\x08\x00"),
    ("mha", ".mha", io.read_image, b"ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\n"),
    ("label_image", ".nrrd", io.read_label_image, b"NRRD0004\ntype: uchar\ndimension: 3\n"),
    ("h5ad", ".h5ad", read_reference, b"\x89HDF\r\n\x1a\n"),
    ("dicom_seg", ".dcm", _dicom_seg, DICM),
    ("rtstruct", ".dcm", _rtstruct, DICM),
]

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _call(parser: Callable[[Path], Any], suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            parser(path)
        except UserError as exc:
            assert str(path) in str(exc) or path.name in str(exc), str(exc)
        finally:
            assert time.perf_counter() - start < 1.0, "parser took more than 1 s"


@pytest.mark.parametrize(("name", "suffix", "parser", "prefix"), PARSERS,
                         ids=[p[0] for p in PARSERS])
@FUZZ
@given(data=st.binary(max_size=3000), after_header=st.booleans())
def test_parser_on_arbitrary_bytes(name: str, suffix: str, parser: Callable[[Path], Any],
                                   prefix: bytes, data: bytes, after_header: bool) -> None:
    _call(parser, suffix, (prefix + data) if after_header else data)


@FUZZ
@given(text=st.text(max_size=80))
def test_barcode_parser_on_arbitrary_text(text: str) -> None:
    try:
        io.parse_barcode(text)
    except UserError:
        pass


@FUZZ
@given(data=st.binary(max_size=3000))
def test_dicom_folder_of_arbitrary_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "slice.dcm").write_bytes(DICM + data)
        start = time.perf_counter()
        try:
            io.read_dicom_series(tmp)
        except UserError as exc:
            assert tmp in str(exc) or "slice.dcm" in str(exc), str(exc)
        assert time.perf_counter() - start < 1.0
