"""Bulk transcriptome: the ingest stage (GDC download → ``bulk.h5ad``)."""

from __future__ import annotations
