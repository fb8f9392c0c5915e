"""Sizes of the simulated world at each scale, and the per-centre scanner settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scale = Literal["tiny", "demo", "large"]


@dataclass(frozen=True)
class WorldSize:
    """How many of everything a world holds."""

    n_train: int
    n_internal: int
    n_external_per_centre: int
    n_tcga_tumours: int
    n_tcga_normals: int
    n_tcga_with_ct: int
    n_multi_aliquot: int
    n_genes: int
    n_markers: int
    programme_size: int
    n_cells: int
    n_donors: int


SIZES: dict[str, WorldSize] = {
    "demo": WorldSize(
        n_train=500, n_internal=150, n_external_per_centre=100,
        n_tcga_tumours=500, n_tcga_normals=40, n_tcga_with_ct=140, n_multi_aliquot=6,
        n_genes=15000, n_markers=60, programme_size=120, n_cells=6000, n_donors=8,
    ),
    # for scaling benchmarks: 2,340 CT patients, 1,000 tumour transcriptomes
    "large": WorldSize(
        n_train=1200, n_internal=360, n_external_per_centre=240,
        n_tcga_tumours=1000, n_tcga_normals=80, n_tcga_with_ct=300, n_multi_aliquot=12,
        n_genes=15000, n_markers=60, programme_size=120, n_cells=8000, n_donors=10,
    ),
    "tiny": WorldSize(
        n_train=50, n_internal=16, n_external_per_centre=10,
        n_tcga_tumours=60, n_tcga_normals=6, n_tcga_with_ct=14, n_multi_aliquot=3,
        n_genes=3000, n_markers=30, programme_size=60, n_cells=1200, n_donors=4,
    ),
}


@dataclass(frozen=True)
class Scanner:
    """A centre's CT acquisition: voxel spacing (mm), HU offset, noise, reconstruction blur."""

    center: str
    spacing: tuple[float, float, float]
    hu_offset: float
    noise_sd: float
    blur_sigma_mm: float
    file_format: Literal["nrrd", "dicom"] = "nrrd"
    institution: str = ""


#: centre A trains (and provides the internal test set); B and C are the external centres; the
#: TCGA sites share two scanner profiles. HU offsets stay within the ±7 HU that CT accreditation
#: allows for water (ACR CT phantom); the centres differ more in noise, kernel and spacing.
SCANNERS: dict[str, Scanner] = {
    "A": Scanner("A", (0.8, 0.8, 3.0), 0.0, 10.0, 0.6, "nrrd", "Synthetic University Hospital"),
    "B": Scanner("B", (0.7, 0.7, 2.0), 5.0, 17.0, 0.45, "nrrd", "Synthetic Regional Centre"),
    "C": Scanner("C", (0.9, 0.9, 2.5), -4.0, 7.0, 0.8, "dicom", "Synthetic Cancer Institute"),
    "TCGA1": Scanner("TCGA1", (0.9, 0.9, 2.5), 6.0, 12.0, 0.8, "nrrd", "Synthetic TCGA site 1"),
    "TCGA2": Scanner("TCGA2", (0.6, 0.6, 3.0), -4.0, 14.0, 0.5, "nrrd", "Synthetic TCGA site 2"),
}

#: target LNM prevalence per imaging cohort (the study's ~30%)
PREVALENCE = {"train": 0.30, "internal": 0.30, "external": 0.30}
VOLUME_SHAPE = (32, 64, 64)  # z, y, x (numpy order); SimpleITK reports (x, y, z)
