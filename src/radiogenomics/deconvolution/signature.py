"""Signature matrix from a raw-count single-cell reference: donor-averaged pseudo-bulk CPM of
each type's marker genes, with its condition number and per-type mRNA content."""

from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from ..errors import UserError
from .markers import MARKER_PSEUDOCOUNT, check_reference, markers_of, profiles_of

__all__ = ["Signature", "build_signature"]


@dataclass
class Signature:
    """Genes × types expression on the linear scale (CPM), and what it was built from.

    Attributes
    ----------
    matrix
        Marker genes × cell types, donor-averaged pseudo-bulk CPM.
    mrna_content
        Per type: mean counts per cell relative to the mean over types; RNA fractions are
        divided by it to give cell fractions.
    markers
        The marker table (``cell_type, gene, log2fc, detection, cpm``).
    gene_ids
        Ensembl IDs of the signature genes where the reference has them (for matching bulk).
    condition_number
        2-norm condition number of ``matrix``.
    params
        How it was built.
    """

    matrix: pd.DataFrame
    mrna_content: pd.Series
    markers: pd.DataFrame
    gene_ids: pd.Series
    condition_number: float
    params: dict = field(default_factory=dict)

    @property
    def cell_types(self) -> list[str]:
        return [str(c) for c in self.matrix.columns]


def build_signature(reference: ad.AnnData, cell_type_key: str = "cell_type",
                    donor_key: str | None = "donor", *, layer: str | None = None,
                    n_markers: int = 100, min_log2fc: float = 1.0, min_detection: float = 0.1,
                    min_markers: int = 5, max_condition: float = 1e3) -> Signature:
    """Build a signature from ``reference`` (raw counts in ``X`` or ``layers[layer]``).

    Per donor and type the counts are summed (pseudo-bulk) and scaled to CPM, then averaged
    over donors (linear scale). Markers: genes whose log2 fold change against the highest other
    type is at least ``min_log2fc``, detected in at least ``min_detection`` of the type's cells;
    the top ``n_markers`` per type. A type with fewer than ``min_markers`` markers, or a matrix
    with condition number above ``max_condition``, is refused with advice.
    """
    counts = check_reference(reference, cell_type_key, donor_key, layer)
    profiles = profiles_of(counts, reference, cell_type_key, donor_key)
    markers = markers_of(counts, reference, profiles, cell_type_key, n_markers=n_markers,
                         min_log2fc=min_log2fc, min_detection=min_detection, pseudocount=MARKER_PSEUDOCOUNT)
    per_type = markers.groupby("cell_type").size().reindex(profiles.columns, fill_value=0)
    few = per_type[per_type < min_markers]
    if len(few):
        msg = (f"signature: cell type(s) {list(few.index)} have fewer than {min_markers} marker "
               f"genes ({few.to_dict()}); merge them with a related type, add cells, or lower "
               f"min_log2fc")
        raise UserError(msg)
    genes = pd.Index(dict.fromkeys(markers["gene"]))
    matrix = profiles.loc[genes]
    cond = float(np.linalg.cond(matrix.to_numpy()))
    if cond > max_condition:
        msg = (f"signature: condition number {cond:.3g} exceeds {max_condition:g}; two types are "
               f"nearly indistinguishable; merge them or use more markers")
        raise UserError(msg)
    types = reference.obs[cell_type_key].astype(str).to_numpy()
    per_cell = np.asarray(counts.sum(axis=1)).ravel()
    content = pd.Series({t: per_cell[types == t].mean() for t in matrix.columns})
    content = content / content.mean()
    gene_ids = (reference.var.loc[genes, "gene_ids"].astype(str) if "gene_ids" in reference.var
                else pd.Series(genes, index=genes))
    logger.info("signature: %d genes × %d types, condition number %.1f", len(genes),
                matrix.shape[1], cond)
    return Signature(matrix=matrix, mrna_content=content, markers=markers, gene_ids=gene_ids,
                     condition_number=cond,
                     params={"cell_type_key": cell_type_key, "donor_key": donor_key,
                             "n_markers": n_markers, "min_log2fc": min_log2fc,
                             "min_detection": min_detection, "scale": "CPM (linear)",
                             "n_cells": int(reference.n_obs),
                             "n_donors": int(reference.obs[donor_key].nunique())
                             if donor_key else 1})
