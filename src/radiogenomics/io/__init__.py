"""Readers of the real formats the suite consumes (imaging so far)."""

from __future__ import annotations

from .dicom import read_dicom_series
from .images import read_image
from .masks import read_dicom_seg, read_label_image, read_mask, read_rtstruct

__all__ = ["read_dicom_seg", "read_dicom_series", "read_image", "read_label_image", "read_mask",
           "read_rtstruct"]
