"""Imaging: per-case QC and pyradiomics extraction (habitats to follow)."""

from __future__ import annotations

from .extract import DEFAULT_PARAMS, extract_features
from .qc import QCSettings, check_case

__all__ = ["DEFAULT_PARAMS", "QCSettings", "check_case", "extract_features"]
