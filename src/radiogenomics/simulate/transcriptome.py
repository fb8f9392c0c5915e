"""The TCGA-HNSC-like cohort: patients, barcodes, cell fractions, expected expression, counts
and survival, all driven by the same latent aggressiveness as the CT."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._scales import WorldSize
from .genes import CELL_TYPES, MRNA_CONTENT, GeneModel

TSS = ("BA", "BB", "CN", "CQ", "CR", "CV", "CX", "D6", "DQ", "F7", "H7", "HD", "HL", "IQ",
       "KU", "MT", "MZ", "P3", "QK", "RS", "T2", "T3", "TN", "UF", "UP", "WA")
STAGES = ("Stage I", "Stage II", "Stage III", "Stage IVA", "Stage IVB", "Stage IVC")
STAGE_P = (0.05, 0.15, 0.18, 0.54, 0.06, 0.02)
TUMOUR_COMPOSITION = {
    "malignant": 0.50, "fibroblast": 0.10, "endothelial": 0.05, "CD8 T": 0.05, "CD4 T": 0.06,
    "Treg": 0.02, "B": 0.03, "plasma": 0.04, "NK": 0.015, "monocyte/macrophage": 0.08,
    "dendritic": 0.015, "mast": 0.01,
}
NORMAL_COMPOSITION = {
    "malignant": 0.40, "fibroblast": 0.22, "endothelial": 0.10, "CD8 T": 0.04, "CD4 T": 0.05,
    "Treg": 0.005, "B": 0.03, "plasma": 0.05, "NK": 0.01, "monocyte/macrophage": 0.06,
    "dendritic": 0.01, "mast": 0.025,
}
#: effect on log cell abundance per SD of latent aggressiveness, and of HPV positivity
LATENT_ON_CELLS = {"CD8 T": -0.45, "Treg": 0.40, "monocyte/macrophage": 0.35,
                   "fibroblast": 0.25, "NK": -0.20, "B": -0.15}
HPV_ON_CELLS = {"CD8 T": 0.50, "B": 0.50, "plasma": 0.30}
#: true log-hazard ratios of the survival model (per unit of each truth column)
SURVIVAL_LOG_HR = {"stage_late": 0.50, "hpv_positive": -0.80, "latent": 0.45,
                   "cd8_z": -0.30, "age_per_10y": 0.20}
DEATH_RATE_PER_YEAR = 0.10
PROGRESSION_RATE_PER_YEAR = 0.12
DISEASE_SPECIFIC_SHARE = 0.7


def _participants(n: int, rng: np.random.Generator) -> list[str]:
    alphabet = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        tss = rng.choice(TSS)
        part = "".join(rng.choice(alphabet, 4))
        pid = f"TCGA-{tss}-{part}"
        if pid not in seen:
            seen.add(pid)
            out.append(pid)
    return out


def draw_tcga_patients(size: WorldSize, rng: np.random.Generator) -> pd.DataFrame:
    """One row per TCGA-like patient with latent, clinical and HPV truth."""
    n = size.n_tcga_tumours
    z = rng.normal(size=n)
    stage_cont = 0.5 * z + rng.normal(size=n)
    cuts = np.quantile(stage_cont, np.cumsum(STAGE_P)[:-1])
    stage = np.array(STAGES)[np.searchsorted(cuts, stage_cont)]
    return pd.DataFrame(
        {
            "patient": _participants(n, rng),
            "latent": z,
            "age": np.clip(rng.normal(61, 11, size=n), 24, 90).round().astype(int),
            "gender": np.where(rng.random(n) < 0.73, "male", "female"),
            "stage": stage,
            "hpv_positive": (rng.random(n) < 0.15).astype(int),
        }
    )


def cell_fractions(patients: pd.DataFrame, normal: bool, rng: np.random.Generator) -> pd.DataFrame:
    """Cell fractions (rows sum to 1), logistic-normal around a composition shifted by the
    latent value and HPV status (tumours) or a normal-tissue composition."""
    comp = NORMAL_COMPOSITION if normal else TUMOUR_COMPOSITION
    logit = np.log(np.array([comp[t] for t in CELL_TYPES]))[None, :].repeat(len(patients), 0)
    if not normal:
        z = patients["latent"].to_numpy()
        hpv = patients["hpv_positive"].to_numpy()
        for t, beta in LATENT_ON_CELLS.items():
            logit[:, CELL_TYPES.index(t)] += beta * z
        for t, beta in HPV_ON_CELLS.items():
            logit[:, CELL_TYPES.index(t)] += beta * hpv
    logit += rng.normal(0.0, 0.35, size=logit.shape)
    frac = np.exp(logit)
    frac /= frac.sum(axis=1, keepdims=True)
    return pd.DataFrame(frac, columns=list(CELL_TYPES))


def expected_expression(fractions: np.ndarray, latent: np.ndarray, genes: GeneModel,
                        programmes: bool = True) -> np.ndarray:
    """Samples x genes relative expression (rows sum to 1) of bulk tumours, noise-free.

    RNA fractions are cell fractions weighted by mRNA content; profiles carry the bulk platform
    bias; tumour programmes and directly planted genes act on top.
    """
    content = np.array([MRNA_CONTENT[t] for t in CELL_TYPES])
    rna = fractions * content[None, :]
    rna /= rna.sum(axis=1, keepdims=True)
    expr = rna @ (genes.profiles * genes.platform_bias[None, :])
    if programmes:
        expr = expr * np.exp(genes.programme_log_effect(latent))
    return expr / expr.sum(axis=1, keepdims=True)


def draw_counts(expected: np.ndarray, rng: np.random.Generator,
                dispersion: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """Negative-binomial (gamma-Poisson) counts with TCGA-like library sizes.

    Returns the counts (samples x genes, int64) and the library sizes.
    """
    library = np.exp(rng.normal(np.log(4.5e7), 0.3, size=expected.shape[0]))
    mean = expected * library[:, None]
    rate = mean * rng.gamma(1.0 / dispersion, dispersion, size=mean.shape)
    return rng.poisson(rate).astype(np.int64), library


def survival_outcomes(patients: pd.DataFrame, cd8_fraction: np.ndarray,
                      rng: np.random.Generator) -> pd.DataFrame:
    """OS, DSS and PFI (events and days) from proportional hazards on the truth columns."""
    cov = pd.DataFrame(
        {
            "stage_late": patients["stage"].isin(STAGES[2:]).astype(int).to_numpy(),
            "hpv_positive": patients["hpv_positive"].to_numpy(),
            "latent": patients["latent"].to_numpy(),
            "cd8_z": (np.log(cd8_fraction) - np.log(cd8_fraction).mean()) / np.log(cd8_fraction).std(),
            "age_per_10y": (patients["age"].to_numpy() - 60) / 10.0,
        }
    )
    lp = sum(SURVIVAL_LOG_HR[k] * cov[k].to_numpy() for k in SURVIVAL_LOG_HR)
    n = len(patients)
    t_death = rng.exponential(365.25 / (DEATH_RATE_PER_YEAR * np.exp(lp)))
    t_prog = rng.exponential(365.25 / (PROGRESSION_RATE_PER_YEAR * np.exp(lp)))
    censor = rng.uniform(120, 3650, size=n)
    lost = rng.random(n) < 0.12
    censor[lost] = rng.uniform(30, 700, size=lost.sum())
    os_time = np.minimum(t_death, censor)
    os_event = (t_death <= censor).astype(int)
    disease = rng.random(n) < DISEASE_SPECIFIC_SHARE
    pfi_time = np.minimum.reduce([t_prog, t_death, censor])
    pfi_event = (np.minimum(t_prog, t_death) <= censor).astype(int)
    out = cov.copy()
    out["OS"], out["OS.time"] = os_event, np.ceil(os_time).astype(int)
    out["DSS"], out["DSS.time"] = (os_event & disease).astype(int), np.ceil(os_time).astype(int)
    out["PFI"], out["PFI.time"] = pfi_event, np.ceil(pfi_time).astype(int)
    out["progressed"] = (t_prog <= np.minimum(t_death, censor)).astype(int)
    return out
