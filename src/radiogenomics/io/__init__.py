"""Readers (and a few writers) of the real formats the suite consumes: CT and masks (DICOM,
DICOM-SEG, RTSTRUCT, NRRD/NIfTI), GDC and TCGA files, gene sets and manifests."""

from __future__ import annotations

from .barcodes import SAMPLE_TYPES, parse_barcode, parse_barcodes, select_aliquots
from .clinical import read_biotab_patient, read_gdc_clinical, read_tcga_cdr
from .dicom import read_dicom_series
from .expression import read_gdc_expression
from .gdc import (
    read_cart_metadata,
    read_gdc_manifest,
    read_sample_sheet,
    read_star_counts,
    safe_relative_name,
)
from .genesets import read_gmt, read_tcia_manifest, write_gmt
from .images import read_image
from .masks import read_dicom_seg, read_label_image, read_mask, read_rtstruct

__all__ = [
    "SAMPLE_TYPES", "parse_barcode", "parse_barcodes", "read_biotab_patient", "read_cart_metadata",
    "read_dicom_seg", "read_dicom_series", "read_gdc_clinical", "read_gdc_expression",
    "read_gdc_manifest", "read_gmt", "read_image", "read_label_image", "read_mask",
    "read_rtstruct", "read_sample_sheet", "read_star_counts", "read_tcga_cdr",
    "read_tcia_manifest", "safe_relative_name", "select_aliquots", "write_gmt",
]
