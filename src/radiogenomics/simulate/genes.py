"""Genes of the simulated world: GENCODE-v36-like annotation, cell-type expression profiles,
tumour programmes and gene sets (planted and decoy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CELL_TYPES = (
    "malignant", "fibroblast", "endothelial", "CD8 T", "CD4 T", "Treg", "B",
    "plasma", "NK", "monocyte/macrophage", "dendritic", "mast",
)
#: relative mRNA content per cell (RNA fraction = cell fraction x content, renormalised)
MRNA_CONTENT = {
    "malignant": 2.0, "fibroblast": 1.4, "endothelial": 1.1, "CD8 T": 0.55, "CD4 T": 0.55,
    "Treg": 0.55, "B": 0.6, "plasma": 1.6, "NK": 0.6, "monocyte/macrophage": 1.2,
    "dendritic": 1.0, "mast": 0.9,
}
#: real marker symbols shown first for each type (the rest are synthetic)
KNOWN_MARKERS = {
    "malignant": ("KRT5", "KRT14", "KRT17", "SFN", "LAMB3"),
    "fibroblast": ("COL1A1", "COL1A2", "DCN", "LUM", "PDGFRB"),
    "endothelial": ("PECAM1", "VWF", "CDH5", "CLDN5", "ESAM"),
    "CD8 T": ("CD8A", "CD8B", "GZMK", "CRTAM", "CD3E"),
    "CD4 T": ("CD4", "IL7R", "CCR7", "LEF1", "TCF7"),
    "Treg": ("FOXP3", "IL2RA", "CTLA4", "TNFRSF4", "IKZF2"),
    "B": ("MS4A1", "CD19", "CD79A", "BANK1", "PAX5"),
    "plasma": ("JCHAIN", "MZB1", "IGHG1", "SDC1", "TNFRSF17"),
    "NK": ("NCAM1", "KLRD1", "NKG7", "GNLY", "KLRF1"),
    "monocyte/macrophage": ("CD68", "CD163", "CD14", "C1QA", "MRC1"),
    "dendritic": ("CLEC9A", "XCR1", "CD1C", "FCER1A", "LAMP3"),
    "mast": ("TPSAB1", "CPA3", "KIT", "MS4A2", "HDC"),
}
#: tumour programmes: (effect on log expression per SD of latent aggressiveness, known members)
PROGRAMMES = {
    "SIM_HYPOXIA": (0.55, ("CA9", "VEGFA", "SLC2A1", "PGK1", "NDRG1", "ADM")),
    "SIM_EPITHELIAL_MESENCHYMAL_TRANSITION": (0.50, ("VIM", "SNAI2", "FN1", "TGFBI", "SPARC")),
    "SIM_G2M_PROLIFERATION": (0.40, ("MKI67", "TOP2A", "CCNB1", "BUB1", "CDK1")),
    "SIM_GLYCOLYSIS": (0.35, ("HK2", "LDHA", "PFKP", "ENO1", "GAPDH")),
    "SIM_TGF_BETA_SIGNALING": (0.30, ("TGFB1", "SMAD7", "SERPINE1", "LTBP2", "THBS1")),
    "SIM_INTERFERON_GAMMA_RESPONSE": (-0.45, ("STAT1", "IRF1", "CXCL9", "CXCL10", "IDO1")),
    "SIM_ANTIGEN_PRESENTATION": (-0.40, ("HLA-A", "HLA-B", "B2M", "TAP1", "PSMB9")),
    "SIM_KERATINIZATION": (-0.30, ("KRT1", "KRT10", "IVL", "SPRR1A", "LOR")),
}
N_DECOYS = 26
#: SD of the type-specific log-expression of non-marker genes around the shared baseline
TYPE_VARIATION_SD = 0.25
#: a gene counts as planted DE (high vs low latent) when its true |log2FC| reaches this
DE_MIN_LOG2FC = 0.2
DIRECT_DE_PER_1000 = 8  # individually planted DE genes (outside any set) per 1000 genes


@dataclass
class GeneModel:
    """Everything the transcriptome and the reference are drawn from.

    Attributes
    ----------
    annotation
        One row per gene: ``gene_id`` (versioned), ``gene_name``, ``gene_type``, ``length``.
    profiles
        Cell types x genes, expression per unit of mRNA (rows sum to 1).
    markers
        Cell type -> indices of its marker genes.
    programme_genes
        Programme -> (member indices, responsive member indices, per-gene weights).
    direct_de
        Indices and effects (log scale per SD of latent) of individually planted genes.
    decoys
        Decoy set name -> member indices (no planted signal).
    platform_bias
        Gene-wise multiplicative bias of bulk RNA-seq relative to single-cell profiles.
    par_y
        Indices of genes that also have a ``_PAR_Y`` row in the counts files.
    """

    annotation: pd.DataFrame
    profiles: np.ndarray
    markers: dict[str, np.ndarray]
    programme_genes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    direct_de: tuple[np.ndarray, np.ndarray]
    decoys: dict[str, np.ndarray]
    platform_bias: np.ndarray
    par_y: np.ndarray

    @property
    def n_genes(self) -> int:
        return len(self.annotation)

    def programme_log_effect(self, latent: np.ndarray) -> np.ndarray:
        """Samples x genes additive log-expression effect of programmes and direct DE genes."""
        effect = np.zeros((len(latent), self.n_genes))
        for name, (_, responsive, weights) in self.programme_genes.items():
            beta = PROGRAMMES[name][0]
            effect[:, responsive] += np.outer(latent, beta * weights)
        idx, beta = self.direct_de
        effect[:, idx] += np.outer(latent, beta)
        return effect

    def gene_sets(self) -> dict[str, list[str]]:
        """The GMT content: planted programmes then decoys, as gene symbols."""
        names = self.annotation["gene_name"].to_numpy()
        out = {k: sorted(set(names[v[0]])) for k, v in self.programme_genes.items()}
        out.update({k: sorted(set(names[v])) for k, v in self.decoys.items()})
        return out


def _symbols(n: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        name = f"SG{rng.integers(10000, 99999)}"
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def build_gene_model(n_genes: int, n_markers: int, programme_size: int,
                     rng: np.random.Generator) -> GeneModel:
    """Draw the gene model (see :class:`GeneModel`)."""
    n_types = len(CELL_TYPES)
    perm = rng.permutation(n_genes)
    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        out = np.sort(perm[cursor:cursor + k])
        cursor += k
        return out

    markers = {t: take(n_markers) for t in CELL_TYPES}
    programme_members = {p: take(programme_size) for p in PROGRAMMES}
    n_direct = max(10, DIRECT_DE_PER_1000 * n_genes // 1000)
    direct_idx = take(n_direct)
    background = np.sort(perm[cursor:])

    names = np.array(_symbols(n_genes, rng, set()), dtype=object)
    for t, known in KNOWN_MARKERS.items():
        names[markers[t][: len(known)]] = known
    for p, (_, known) in PROGRAMMES.items():
        names[programme_members[p][: len(known)]] = known
    # duplicated symbols, as GENCODE has (different IDs, one symbol): among background genes
    dup = rng.choice(background, size=max(4, n_genes // 800) * 2, replace=False).reshape(-1, 2)
    names[dup[:, 1]] = names[dup[:, 0]]

    gene_type = rng.choice(
        ["protein_coding", "lncRNA", "processed_pseudogene", "misc_RNA", "snRNA"],
        size=n_genes, p=[0.72, 0.18, 0.06, 0.02, 0.02],
    )
    for idx in (*markers.values(), *programme_members.values(), direct_idx):
        gene_type[idx] = "protein_coding"
    numbers = np.sort(rng.choice(np.arange(1000, 300000), size=n_genes, replace=False))
    versions = rng.integers(1, 20, size=n_genes)
    ids = [f"ENSG{num:011d}.{v}" for num, v in zip(numbers, versions, strict=True)]
    length = np.round(np.exp(rng.normal(np.log(2200), 0.7, size=n_genes))).astype(int) + 200
    annotation = pd.DataFrame(
        {"gene_id": ids, "gene_name": names.astype(str), "gene_type": gene_type, "length": length}
    )

    # profiles: a shared baseline, modest type-specific variation (so that shifts in cell
    # composition move background genes only a little), markers high in their own type
    base = rng.normal(0.0, 1.6, size=n_genes)
    base[gene_type != "protein_coding"] -= 1.5
    log_prof = base[None, :] + rng.normal(0.0, TYPE_VARIATION_SD, size=(n_types, n_genes))
    for t_i, t in enumerate(CELL_TYPES):
        idx = markers[t]
        lift = rng.uniform(2.5, 4.5, size=idx.size)
        log_prof[:, idx] -= 1.0
        log_prof[t_i, idx] += lift + 1.0 + 1.0
    profiles = np.exp(log_prof)
    profiles /= profiles.sum(axis=1, keepdims=True)

    programme_genes = {}
    for p, members in programme_members.items():
        responsive = np.sort(rng.choice(members, size=int(0.7 * members.size), replace=False))
        weights = rng.uniform(0.5, 1.5, size=responsive.size)
        programme_genes[p] = (members, responsive, weights)
    direct_beta = rng.choice([-1.0, 1.0], size=direct_idx.size) * rng.uniform(0.25, 0.7, size=direct_idx.size)

    decoys = {}
    for k in range(N_DECOYS):
        size = int(rng.integers(15, min(300, background.size // 3)))
        decoys[f"SIM_DECOY_{k + 1:02d}"] = np.sort(rng.choice(background, size=size, replace=False))

    platform_bias = np.exp(rng.normal(0.0, 0.35, size=n_genes))
    par_y = np.sort(rng.choice(background, size=max(3, n_genes // 1000), replace=False))
    return GeneModel(annotation, profiles, markers, programme_genes,
                     (direct_idx, direct_beta), decoys, platform_bias, par_y)
