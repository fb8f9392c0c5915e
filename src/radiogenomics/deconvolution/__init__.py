"""Immune deconvolution of bulk tumours with single-cell references."""

from .markers import check_reference, marker_genes, pseudobulk_profiles

__all__ = ["check_reference", "marker_genes", "pseudobulk_profiles"]
