"""Immune deconvolution of bulk tumours with single-cell references: signature matrices from a
raw-count reference, weighted NNLS (default), NNLS and a CIBERSORT-style baseline."""

from .markers import check_reference, marker_genes, pseudobulk_profiles
from .methods import (
    align,
    bulk_cpm,
    cibersort,
    deconvolve,
    deconvolve_adata,
    nnls_fractions,
    wnnls_fractions,
)
from .signature import Signature, build_signature

__all__ = ["Signature", "align", "build_signature", "bulk_cpm", "check_reference", "cibersort",
           "deconvolve", "deconvolve_adata", "marker_genes", "nnls_fractions",
           "pseudobulk_profiles", "wnnls_fractions"]
