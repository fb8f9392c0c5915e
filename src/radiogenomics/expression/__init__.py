"""Bulk transcriptome: ingest (GDC download → ``bulk.h5ad``), differential expression by
rad-score group (PyDESeq2), gene-set enrichment and per-sample pathway scores (gseapy)."""

from __future__ import annotations

from .de import check_counts, differential_expression, low_count_filter, rank_association
from .enrichment import enrichment, pathway_scores, ranking, zscore_scores

__all__ = ["check_counts", "differential_expression", "enrichment", "low_count_filter",
           "pathway_scores", "rank_association", "ranking", "zscore_scores"]
