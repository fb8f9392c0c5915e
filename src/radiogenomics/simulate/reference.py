"""The single-cell reference: raw UMI counts from the same cell-type profiles as the bulk
mixtures (without the bulk platform bias), several donors with donor effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .genes import CELL_TYPES, MRNA_CONTENT, GeneModel

REFERENCE_COMPOSITION = {
    "malignant": 0.28, "fibroblast": 0.10, "endothelial": 0.06, "CD8 T": 0.10, "CD4 T": 0.10,
    "Treg": 0.04, "B": 0.06, "plasma": 0.05, "NK": 0.05, "monocyte/macrophage": 0.09,
    "dendritic": 0.03, "mast": 0.04,
}


def draw_reference(genes: GeneModel, n_cells: int, n_donors: int, rng: np.random.Generator):  # noqa: ANN201
    """Return an AnnData (cells x genes, float32 integer counts in ``X``, CSR) with
    ``obs["cell_type"]``, ``obs["donor"]``, ``obs["n_counts"]``; ``var["gene_ids"]``."""
    import anndata as ad
    from anndata.utils import make_index_unique

    p = np.array([REFERENCE_COMPOSITION[t] for t in CELL_TYPES])
    types = rng.choice(len(CELL_TYPES), size=n_cells, p=p / p.sum())
    donors = rng.integers(0, n_donors, size=n_cells)
    donor_effect = np.exp(rng.normal(0.0, 0.25, size=(n_donors, genes.n_genes)))
    umis = np.exp(rng.normal(np.log(2500.0), 0.4, size=n_cells))
    umis *= np.array([MRNA_CONTENT[CELL_TYPES[t]] for t in types])
    blocks = []
    for start in range(0, n_cells, 500):
        sl = slice(start, min(start + 500, n_cells))
        mean = genes.profiles[types[sl]] * donor_effect[donors[sl]]
        mean = mean / mean.sum(axis=1, keepdims=True) * umis[sl, None]
        rate = mean * rng.gamma(1 / 0.3, 0.3, size=mean.shape)
        blocks.append(sp.csr_matrix(rng.poisson(rate).astype(np.float32)))
    X = sp.vstack(blocks).tocsr()
    ann = genes.annotation
    var = pd.DataFrame(
        {"gene_ids": ann["gene_id"].str.split(".").str[0].to_numpy(),
         "gene_type": ann["gene_type"].to_numpy()},
        index=make_index_unique(pd.Index(ann["gene_name"].to_numpy(), name=None)),
    )
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical([CELL_TYPES[t] for t in types], categories=list(CELL_TYPES)),
            "donor": pd.Categorical([f"donor{d + 1}" for d in donors],
                                    categories=[f"donor{d + 1}" for d in range(n_donors)]),
            "n_counts": np.asarray(X.sum(axis=1)).ravel(),
        },
        index=[f"cell{i:06d}" for i in range(n_cells)],
    )
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.uns["simulated"] = {"counts": "raw UMI counts in X", "n_donors": int(n_donors)}
    return adata
