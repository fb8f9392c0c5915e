"""Write a complete simulated study (see the package docstring of :mod:`radiogenomics.simulate`).

Layout of the world folder::

    imaging/cases.tsv                      the study's case table (paths relative to imaging/)
    imaging/nrrd/<patient>/{image,mask}.nrrd
    imaging/dicom/<patient>/ct/*.dcm, seg/tumour_seg.dcm     (external centre C)
    gdc/gdc_manifest.txt, gdc_sample_sheet.tsv, metadata.cart.json, clinical.tsv,
    gdc/TCGA-CDR-SupplementalTableS1.tsv, nationwidechildrens.org_clinical_patient_hnsc.txt
    gdc/counts/<file_id>/<uuid>.rna_seq.augmented_star_gene_counts.tsv
    reference/reference.h5ad               single-cell reference (raw counts)
    gene_sets/gene_sets.gmt
    truth/                                 what was planted
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._files import json_dumps
from .._logging import logger, progress
from ..errors import UserError
from . import gdc
from ._scales import SCANNERS, SIZES, WorldSize
from .genes import CELL_TYPES, DE_MIN_LOG2FC, PROGRAMMES, GeneModel, build_gene_model
from .imaging import write_imaging
from .patients import clinical_from_latent, draw_imaging_patients, lnm_probability
from .reference import draw_reference
from .transcriptome import (
    SURVIVAL_LOG_HR,
    cell_fractions,
    draw_counts,
    draw_tcga_patients,
    expected_expression,
    survival_outcomes,
)

FORMAT_VERSION = 1


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC (ties count one half)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _tsv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False, float_format="%.6g", lineterminator="\n")


# ---------------------------------------------------------------------------------------------


def _imaging_table(size: WorldSize, tcga: pd.DataFrame, seed: int) -> pd.DataFrame:
    study = draw_imaging_patients(size, _rng(seed, 1))
    intercept = study.attrs["lnm_intercept"]
    rng = _rng(seed, 2)
    with_ct = tcga.iloc[np.sort(rng.choice(len(tcga), size=size.n_tcga_with_ct, replace=False))]
    clin = clinical_from_latent(with_ct["latent"].to_numpy(), rng)
    clin["age"] = with_ct["age"].to_numpy()
    clin["sex"] = with_ct["gender"].to_numpy()
    p = lnm_probability(with_ct["latent"].to_numpy(), clin, intercept)
    trans = clin.assign(
        patient_id=with_ct["patient"].to_numpy(), cohort="transcriptome",
        center=rng.choice(["TCGA1", "TCGA2"], size=len(with_ct)),
        latent=with_ct["latent"].to_numpy(), lnm_probability=p,
        lnm=(rng.random(len(p)) < p).astype(int),
    )
    table = pd.concat([study, trans[study.columns]], ignore_index=True)
    table["scanner"] = table["center"]
    table.attrs["lnm_intercept"] = intercept
    return table


def _rna_files(size: WorldSize, tcga: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per RNA-seq file: aliquot barcodes, UUIDs and which aliquot the rules pick."""
    rng = _rng(seed, 3)
    rows = []
    case_uuid = {p: gdc.det_uuid(rng) for p in tcga["patient"]}
    plates = rng.integers(1900, 2400, size=len(tcga))
    for p, plate in zip(tcga["patient"], plates, strict=True):
        rows.append({"patient": p, "sample_type_code": "01", "aliquot": f"{p}-01A-11R-{plate}-07",
                     "chosen": True, "kind": "primary"})
    multi = rng.choice(len(tcga), size=size.n_multi_aliquot, replace=False)
    variants = ("analyte_H", "later_plate", "analyte_T")
    for k, i in enumerate(multi):
        p, plate = tcga["patient"].iloc[i], plates[i]
        variant = variants[k % len(variants)]
        first = rows[i]
        if variant == "analyte_H":  # H beats R whatever the plate
            rows.append({"patient": p, "sample_type_code": "01",
                         "aliquot": f"{p}-01A-11H-{plate - 50}-07", "chosen": True, "kind": variant})
            first["chosen"] = False
        elif variant == "later_plate":  # same analyte: the later plate wins
            rows.append({"patient": p, "sample_type_code": "01",
                         "aliquot": f"{p}-01A-21R-{plate + 100}-07", "chosen": True, "kind": variant})
            first["chosen"] = False
        else:  # T loses to R
            rows.append({"patient": p, "sample_type_code": "01",
                         "aliquot": f"{p}-01A-11T-{plate + 100}-07", "chosen": False, "kind": variant})
    normals = rng.choice(len(tcga), size=size.n_tcga_normals, replace=False)
    for i in normals:
        p = tcga["patient"].iloc[i]
        rows.append({"patient": p, "sample_type_code": "11",
                     "aliquot": f"{p}-11A-01R-{plates[i] + 7}-07", "chosen": True, "kind": "normal"})
    files = pd.DataFrame(rows)
    files["sample"] = files["aliquot"].str[:16]
    files["case_uuid"] = files["patient"].map(case_uuid)
    files["aliquot_uuid"] = [gdc.det_uuid(rng) for _ in range(len(files))]
    files["file_id"] = [gdc.det_uuid(rng) for _ in range(len(files))]
    files["file_name"] = [f"{gdc.det_uuid(rng)}.rna_seq.augmented_star_gene_counts.tsv"
                          for _ in range(len(files))]
    files["preservation_ffpe"] = rng.random(len(files)) < 0.02
    return files


_COUNTS_STATE: dict[str, Any] = {}


def _init_counts_worker(annotation: pd.DataFrame, par_y: np.ndarray) -> None:
    _COUNTS_STATE["annotation"] = annotation
    _COUNTS_STATE["par_y"] = par_y


def _write_counts_file(job: tuple[Path, np.ndarray, int, int]) -> tuple[str, int]:
    path, counts, seed, index = job
    text = gdc.star_counts_text(_COUNTS_STATE["annotation"], counts, _COUNTS_STATE["par_y"],
                                np.random.default_rng([seed, 404, index]))
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return gdc.md5_bytes(data), len(data)


def _write_counts(root: Path, files: pd.DataFrame, counts: np.ndarray, genes: GeneModel,
                  seed: int, n_jobs: int) -> None:
    jobs = [
        (root / "gdc" / "counts" / fid / fname, counts[i], seed, i)
        for i, (fid, fname) in enumerate(zip(files["file_id"], files["file_name"], strict=True))
    ]
    args = (genes.annotation, genes.par_y)
    if n_jobs > 1 and len(jobs) > 8:
        with ProcessPoolExecutor(n_jobs, initializer=_init_counts_worker, initargs=args) as pool:
            results = list(progress(pool.map(_write_counts_file, jobs, chunksize=4),
                                    description="writing GDC counts", total=len(jobs)))
    else:
        _init_counts_worker(*args)
        results = [_write_counts_file(j) for j in progress(jobs, description="writing GDC counts")]
    files["md5"] = [r[0] for r in results]
    files["size"] = [r[1] for r in results]


def _write_gmt(path: Path, sets: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}\tsimulated gene set\t" + "\t".join(genes) for name, genes in sets.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _gene_truth(genes: GeneModel, expected: np.ndarray, high: np.ndarray) -> pd.DataFrame:
    cat = np.full(genes.n_genes, "none", dtype=object)
    for t, idx in genes.markers.items():
        cat[idx] = f"marker:{t}"
    for name, (members, responsive, _) in genes.programme_genes.items():
        cat[members] = f"programme_member:{name}"
        cat[responsive] = f"programme:{name}"
    cat[genes.direct_de[0]] = "direct"
    norm = expected / expected.sum(axis=1, keepdims=True)
    lfc = np.log2(norm[high].mean(axis=0) / norm[~high].mean(axis=0))
    return pd.DataFrame(
        {
            "gene_id": genes.annotation["gene_id"].str.split(".").str[0],
            "gene_name": genes.annotation["gene_name"],
            "true_log2FC": lfc,
            "mean_expression_cpm": norm.mean(axis=0) * 1e6,
            "planted": cat,
            "de": np.abs(lfc) >= DE_MIN_LOG2FC,
        }
    )


def _gene_set_truth(genes: GeneModel) -> pd.DataFrame:
    rows = []
    for name, (members, responsive, _) in genes.programme_genes.items():
        beta = PROGRAMMES[name][0]
        rows.append({"gene_set": name, "direction": "up" if beta > 0 else "down",
                     "log_effect_per_sd": beta, "n_genes": len(members),
                     "n_responsive": len(responsive)})
    for name, members in genes.decoys.items():
        rows.append({"gene_set": name, "direction": "none", "log_effect_per_sd": 0.0,
                     "n_genes": len(members), "n_responsive": 0})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------


def world(
    out_dir: str | Path,
    *,
    scale: Literal["tiny", "demo", "large"] = "demo",
    seed: int = 2026,
    clinical_layout: Literal["2025", "pre2025"] = "2025",
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Simulate a complete study into ``out_dir`` and return its summary.

    The same ``seed`` gives byte-identical files. The world is written into a temporary folder
    beside ``out_dir`` and renamed into place when complete; an existing ``out_dir`` is refused.

    Parameters
    ----------
    out_dir
        The folder to create.
    scale
        ``tiny`` (about a tenth of the study; seconds) or ``demo`` (the study's size).
    seed
        Seed of every random draw.
    clinical_layout
        GDC portal layout of ``clinical.tsv`` and the sample sheet.
    n_jobs
        Worker processes for images and counts files (default: up to 4 cores).

    Returns
    -------
    dict
        The content of ``truth/summary.json``.
    """
    if scale not in SIZES:
        msg = f"scale must be one of {sorted(SIZES)}, got {scale!r}"
        raise UserError(msg)
    if clinical_layout not in ("2025", "pre2025"):
        msg = f"clinical_layout must be '2025' or 'pre2025', got {clinical_layout!r}"
        raise UserError(msg)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        msg = f"{out}: folder exists and is not empty; choose a new folder for the simulated world"
        raise UserError(msg)
    size = SIZES[scale]
    n_jobs = n_jobs or min(os.cpu_count() or 1, 4)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    try:
        summary = _simulate_into(tmp, size, scale, seed, clinical_layout, n_jobs)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("simulated %s world (seed %d) in %.1f s → %s", scale, seed,
                time.perf_counter() - start, out)
    return summary


def _simulate_into(root: Path, size: WorldSize, scale: str, seed: int, layout: str,
                   n_jobs: int) -> dict[str, Any]:
    # --- transcriptome patients first: some of them also have CT
    tcga = draw_tcga_patients(size, _rng(seed, 10))
    imaging = _imaging_table(size, tcga, seed)

    logger.info("simulating %d CT volumes", len(imaging))
    image_truth = write_imaging(root, imaging, seed, n_jobs=n_jobs)
    imaging = imaging.merge(image_truth, on="patient_id", how="left", validate="one_to_one")
    cases = imaging[["patient_id", "cohort", "center", "image", "mask", "image_format",
                     "mask_format", "age", "sex", "smoker", "subsite", "t_stage", "grade"]].copy()
    cases.insert(7, "lnm", imaging["lnm"].astype("Int64"))
    cases.loc[cases["cohort"] == "transcriptome", "lnm"] = pd.NA
    _tsv(cases, root / "imaging" / "cases.tsv")
    truth_cols = ["patient_id", "cohort", "center", "latent", "lnm_probability", "lnm",
                  "tumour_voxels", "tumour_volume_ml", "frac_enhancing", "frac_necrotic",
                  "frac_rim", "irregularity", "heterogeneity", "tumour_mean_hu"]
    _tsv(imaging[truth_cols], root / "truth" / "imaging.tsv")
    phi_cols = [c for c in imaging.columns if c.startswith("phi_")]
    phi = imaging.loc[imaging["image_format"] == "dicom", ["patient_id", *phi_cols]]
    _tsv(phi.rename(columns=lambda c: c.removeprefix("phi_")), root / "truth" / "phi.tsv")

    # --- genes, cell fractions, expression, counts
    logger.info("simulating %d transcriptomes over %d genes", size.n_tcga_tumours, size.n_genes)
    genes = build_gene_model(size.n_genes, size.n_markers, size.programme_size, _rng(seed, 11))
    files = _rna_files(size, tcga, seed)
    by_patient = tcga.set_index("patient")
    sample_patients = by_patient.loc[files["patient"]].reset_index()
    normal = (files["sample_type_code"] == "11").to_numpy()
    frac_rng = _rng(seed, 12)
    tumour_frac = cell_fractions(tcga, normal=False, rng=frac_rng)
    tumour_frac.index = tcga["patient"]
    normal_frac = cell_fractions(sample_patients[normal], normal=True, rng=frac_rng)
    fractions = tumour_frac.loc[files["patient"]].to_numpy()
    fractions[normal] = normal_frac.to_numpy()
    latent = sample_patients["latent"].to_numpy()
    expected = expected_expression(fractions, latent, genes)
    expected[normal] = expected_expression(fractions[normal], latent[normal], genes, programmes=False)
    counts, library = draw_counts(expected, _rng(seed, 13))
    _write_counts(root, files, counts, genes, seed, n_jobs)

    # --- survival and clinical files
    surv = survival_outcomes(tcga, tumour_frac["CD8 T"].to_numpy(), _rng(seed, 14))
    patients = pd.concat([tcga.reset_index(drop=True), surv.drop(columns=["hpv_positive", "latent"])], axis=1)
    patients["case_uuid"] = files.drop_duplicates("patient").set_index("patient").loc[
        patients["patient"], "case_uuid"].to_numpy()
    gdc_dir = root / "gdc"
    gdc.write_manifest(gdc_dir / "gdc_manifest.txt", files)
    gdc.write_sample_sheet(gdc_dir / "gdc_sample_sheet.tsv", files, layout)
    gdc.write_cart_metadata(gdc_dir / "metadata.cart.json", files)
    file_rng = _rng(seed, 15)
    facts = gdc.clinical_rows(patients.rename(columns={"OS.time": "OS_time"}), file_rng)
    gdc.write_clinical(gdc_dir / "clinical.tsv", facts, layout)
    gdc.write_cdr(gdc_dir / "TCGA-CDR-SupplementalTableS1.tsv", patients, file_rng)
    gdc.write_biotab_patient(gdc_dir / "nationwidechildrens.org_clinical_patient_hnsc.txt",
                             patients, file_rng)

    # --- single-cell reference and gene sets
    logger.info("simulating a %d-cell reference", size.n_cells)
    reference = draw_reference(genes, size.n_cells, size.n_donors, _rng(seed, 16))
    (root / "reference").mkdir()
    reference.write_h5ad(root / "reference" / "reference.h5ad")
    _write_gmt(root / "gene_sets" / "gene_sets.gmt", genes.gene_sets())

    # --- truth
    truth = root / "truth"
    tumour_files = files["sample_type_code"] == "01"
    median = np.median(tcga["latent"])
    high = latent > median
    chosen_tumour = (tumour_files & files["chosen"]).to_numpy()
    genes_truth = _gene_truth(genes, expected[chosen_tumour], high[chosen_tumour])
    _tsv(genes_truth, truth / "de_genes.tsv")
    _tsv(_gene_set_truth(genes), truth / "gene_sets.tsv")
    frac_table = pd.DataFrame(fractions, columns=list(CELL_TYPES))
    frac_table.insert(0, "aliquot", files["aliquot"].to_numpy())
    frac_table.insert(1, "sample_type_code", files["sample_type_code"].to_numpy())
    _tsv(frac_table, truth / "cell_fractions.tsv")
    aliquots = files[["patient", "aliquot", "sample_type_code", "kind", "chosen", "file_id",
                      "file_name"]].assign(library_size=np.round(library).astype(np.int64))
    _tsv(aliquots, truth / "aliquots.tsv")
    trans_truth = patients[["patient", "latent", "age", "gender", "stage", "hpv_positive",
                            "stage_late", "cd8_z", "age_per_10y", "OS", "OS.time", "DSS",
                            "DSS.time", "PFI", "PFI.time"]].copy()
    trans_truth.insert(2, "latent_group", np.where(trans_truth["latent"] > median, "high", "low"))
    _tsv(trans_truth, truth / "transcriptome.tsv")
    (truth / "survival.json").write_text(json_dumps({
        "log_hazard_ratios": SURVIVAL_LOG_HR,
        "covariates": {
            "stage_late": "1 if AJCC stage III or IV", "hpv_positive": "1 if HPV positive",
            "latent": "latent aggressiveness (SD units)",
            "cd8_z": "standardised log CD8 T-cell fraction",
            "age_per_10y": "(age - 60) / 10"},
        "endpoints": {"OS": "all-cause death", "DSS": "disease-specific death (70% of deaths)",
                      "PFI": "progression or death"},
        "same_coefficients_for": ["OS", "DSS", "PFI"],
    }), encoding="utf-8")

    summary = _summary(imaging, files, patients, genes, size, scale, seed, layout)
    (truth / "summary.json").write_text(json_dumps(summary), encoding="utf-8")
    (root / "README.txt").write_text(__doc__ or "", encoding="utf-8")
    return summary


def _summary(imaging: pd.DataFrame, files: pd.DataFrame, patients: pd.DataFrame,
             genes: GeneModel, size: WorldSize, scale: str, seed: int, layout: str) -> dict[str, Any]:
    cohorts = {}
    for cohort, part in imaging.groupby("cohort", sort=True):
        y = part["lnm"].to_numpy()
        cohorts[str(cohort)] = {
            "n": len(part),
            "centers": {str(k): int(v) for k, v in part["center"].value_counts().sort_index().items()},
            "lnm_prevalence": round(float(y.mean()), 4),
            "bayes_auc": round(_auc(y, part["lnm_probability"].to_numpy()), 4),
        }
    centers = {}
    for center, part in imaging.groupby("center", sort=True):
        sc = SCANNERS[str(center)]
        centers[str(center)] = {"spacing_mm": list(sc.spacing), "hu_offset": sc.hu_offset,
                                "noise_sd": sc.noise_sd, "blur_sigma_mm": sc.blur_sigma_mm,
                                "file_format": sc.file_format, "n": len(part)}
    return {
        "format_version": FORMAT_VERSION,
        "scale": scale,
        "seed": seed,
        "clinical_layout": layout,
        "n_imaging": len(imaging),
        "imaging_cohorts": cohorts,
        "centers": centers,
        "lnm_model": {"intercept": round(float(imaging.attrs.get("lnm_intercept", 0.0)), 6)},
        "n_rnaseq_files": len(files),
        "n_tcga_patients": len(patients),
        "n_primary_tumour_patients": int(files.loc[files["sample_type_code"] == "01", "patient"].nunique()),
        "n_normals": int((files["sample_type_code"] == "11").sum()),
        "n_multi_aliquot_patients": int(files.loc[files["sample_type_code"] == "01"]
                                        .groupby("patient").size().gt(1).sum()),
        "n_transcriptome_with_ct": int((imaging["cohort"] == "transcriptome").sum()),
        "n_genes": genes.n_genes,
        "n_par_y_rows": len(genes.par_y),
        "cell_types": list(CELL_TYPES),
        "events": {k: int(patients[k].sum()) for k in ("OS", "DSS", "PFI")},
        "n_reference_cells": size.n_cells,
        "n_reference_donors": size.n_donors,
        "gene_sets": {"planted": len(genes.programme_genes), "decoys": len(genes.decoys),
                      "min_log_effect_per_sd": min(abs(v[0]) for v in PROGRAMMES.values())},
        "de_min_log2fc": DE_MIN_LOG2FC,
    }


def load_summary(world_dir: str | Path) -> dict[str, Any]:
    """Read ``truth/summary.json`` of a simulated world, with a clear error if it is not one."""
    path = Path(world_dir) / "truth" / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        msg = f"{world_dir}: not a simulated world (cannot read {path}: {exc})"
        raise UserError(msg) from exc
