"""Per-type pseudo-bulk profiles and marker genes of a raw-count single-cell reference."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import UserError

__all__ = ["MARKER_PSEUDOCOUNT", "check_reference", "marker_genes", "pseudobulk_profiles",
           "read_reference"]

#: CPM added before marker fold changes, so that lowly expressed genes cannot rank by noise
MARKER_PSEUDOCOUNT = 10.0


def read_reference(path: Path) -> ad.AnnData:
    """An h5ad single-cell reference, with a clear error when the file cannot be read."""
    try:
        return ad.read_h5ad(path)
    except (OSError, KeyError, ValueError) as exc:
        msg = f"{path}: cannot be read as an h5ad single-cell reference ({exc})"
        raise UserError(msg) from None


def check_reference(reference: ad.AnnData, cell_type_key: str, donor_key: str | None = None,
                    layer: str | None = None, where: str = "reference") -> sp.csr_matrix:
    """Return the reference's raw counts (CSR, float64) after checking the columns it needs."""
    for key in (cell_type_key, donor_key):
        if key is not None and key not in reference.obs.columns:
            msg = (f"{where}: .obs has no column {key!r} (columns: {sorted(reference.obs.columns)}); "
                   f"the single-cell reference needs a cell-type column and, for signatures, "
                   f"a donor column")
            raise UserError(msg)
    if reference.obs[cell_type_key].isna().any():
        msg = f"{where}: .obs[{cell_type_key!r}] has missing values; label every cell"
        raise UserError(msg)
    if layer is not None and layer not in reference.layers:
        msg = f"{where}: layer {layer!r} not found; layers: {sorted(reference.layers)}"
        raise UserError(msg)
    x = reference.layers[layer] if layer is not None else reference.X
    x = sp.csr_matrix(x, dtype=np.float64)
    data = x.data
    if data.size and (np.any(data < 0) or np.any(data != np.round(data)) or
                      not np.all(np.isfinite(data))):
        msg = (f"{where}: {'layer ' + repr(layer) if layer else 'X'} does not hold raw counts "
               f"(negative, non-integer or non-finite values); signatures are built from raw "
               f"UMI/read counts on the linear scale")
        raise UserError(msg)
    return x


def pseudobulk_profiles(reference: ad.AnnData, *, cell_type_key: str = "cell_type",
                        donor_key: str | None = "donor", layer: str | None = None) -> pd.DataFrame:
    """Genes × types: per-donor, per-type summed counts as CPM, averaged over donors.

    Without a donor column every cell counts as one donor. Types are in category order.
    """
    return profiles_of(check_reference(reference, cell_type_key, donor_key, layer), reference,
                       cell_type_key, donor_key)


def profiles_of(x: sp.csr_matrix, reference: ad.AnnData, cell_type_key: str,
                donor_key: str | None) -> pd.DataFrame:
    """:func:`pseudobulk_profiles` of counts already checked by :func:`check_reference`."""
    types = reference.obs[cell_type_key].astype("category")
    donors = (reference.obs[donor_key].astype(str).to_numpy() if donor_key is not None
              else np.zeros(reference.n_obs, dtype=str))
    out = {}
    for t in types.cat.categories:
        in_type = (types == t).to_numpy()
        cpms = []
        for d in np.unique(donors[in_type]):
            rows = np.flatnonzero(in_type & (donors == d))
            total = np.asarray(x[rows].sum(axis=0)).ravel()
            if total.sum() > 0:
                cpms.append(total / total.sum() * 1e6)
        if cpms:
            out[str(t)] = np.mean(cpms, axis=0)
    return pd.DataFrame(out, index=reference.var_names.astype(str))


def marker_genes(reference: ad.AnnData, *, cell_type_key: str = "cell_type",
                 donor_key: str | None = "donor", layer: str | None = None, n_markers: int = 50,
                 min_log2fc: float = 1.0, min_detection: float = 0.1,
                 pseudocount: float = MARKER_PSEUDOCOUNT) -> pd.DataFrame:
    """Marker genes per type: log2 fold change of the type's pseudo-bulk CPM against the
    highest other type (``log2((cpm + pseudocount) / (other + pseudocount))``: the pseudo-count
    keeps lowly expressed genes from ranking as markers by noise), among genes detected
    (count > 0) in at least ``min_detection`` of the type's cells; the top ``n_markers`` with
    ``log2fc ≥ min_log2fc``.

    Returns
    -------
    DataFrame
        One row per (type, gene): ``cell_type``, ``gene``, ``log2fc``, ``detection``, ``cpm``,
        ranked within each type by ``log2fc``.
    """
    x = check_reference(reference, cell_type_key, donor_key, layer)
    return markers_of(x, reference, profiles_of(x, reference, cell_type_key, donor_key),
                      cell_type_key, n_markers=n_markers, min_log2fc=min_log2fc,
                      min_detection=min_detection, pseudocount=pseudocount)


def markers_of(x: sp.csr_matrix, reference: ad.AnnData, profiles: pd.DataFrame,
               cell_type_key: str, *, n_markers: int, min_log2fc: float, min_detection: float,
               pseudocount: float) -> pd.DataFrame:
    """:func:`marker_genes` from checked counts and their pseudo-bulk profiles."""
    types = reference.obs[cell_type_key].astype(str).to_numpy()
    values = np.log2(profiles.to_numpy() + pseudocount)
    rows = []
    for j, t in enumerate(profiles.columns):
        others = np.delete(values, j, axis=1)
        lfc = values[:, j] - (others.max(axis=1) if others.shape[1] else 0.0)
        cells = x[types == t]
        detection = np.asarray((cells > 0).sum(axis=0)).ravel() / max(cells.shape[0], 1)
        ok = (lfc >= min_log2fc) & (detection >= min_detection)
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(-lfc[idx], kind="stable")][:n_markers]
        rows.append(pd.DataFrame({"cell_type": t, "gene": profiles.index[idx], "log2fc": lfc[idx],
                                  "detection": detection[idx], "cpm": profiles.iloc[idx, j].to_numpy()}))
    return pd.concat(rows, ignore_index=True)
