"""The simulator's own writers of GDC / TCGA files: STAR augmented gene counts, the GDC
manifest, sample sheet (pre-2025 and 2025 layouts), cart metadata JSON, clinical.tsv (flat
pre-2025 and dotted 2025 layouts, one row per treatment, ``'--`` for missing), the TCGA-CDR
table and the BCR Biotab patient file."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

MISSING = "'--"
COUNT_COLUMNS = ("gene_id", "gene_name", "gene_type", "unstranded", "stranded_first",
                 "stranded_second", "tpm_unstranded", "fpkm_unstranded", "fpkm_uq_unstranded")
DATA_CATEGORY, DATA_TYPE = "Transcriptome Profiling", "Gene Expression Quantification"


def det_uuid(rng: np.random.Generator) -> str:
    """A version-4 UUID drawn from ``rng`` (reproducible)."""
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def star_counts_text(annotation: pd.DataFrame, counts: np.ndarray, par_y: np.ndarray,
                     rng: np.random.Generator) -> str:
    """One GDC ``augmented_star_gene_counts.tsv`` as text.

    ``counts`` are the unstranded counts per gene (in annotation order). TCGA libraries are
    unstranded, so each stranded column holds about half of them. TPM, FPKM and FPKM-UQ follow
    the GDC mRNA pipeline's definitions (FPKM-UQ uses the upper quartile of protein-coding
    gene counts).
    """
    length_kb = annotation["length"].to_numpy() / 1000.0
    first = rng.binomial(counts, 0.5)
    second = counts - first - rng.binomial(counts - first, 0.01)
    rate = counts / length_kb
    tpm = rate / rate.sum() * 1e6
    total = counts.sum()
    fpkm = counts / length_kb / (total / 1e6)
    coding = annotation["gene_type"].to_numpy() == "protein_coding"
    uq = np.percentile(counts[coding], 75)
    fpkm_uq = counts / length_kb * 1e6 / max(uq, 1.0)

    n_feat = int(total * rng.uniform(0.02, 0.05))
    qc = [
        ("N_unmapped", int(total * rng.uniform(0.02, 0.06))),
        ("N_multimapping", int(total * rng.uniform(0.03, 0.08))),
        ("N_noFeature", n_feat),
        ("N_ambiguous", int(total * rng.uniform(0.01, 0.03))),
    ]
    buf = io.StringIO()
    buf.write("# gene-model: GENCODE v36\n")
    buf.write("\t".join(COUNT_COLUMNS) + "\n")
    for name, value in qc:
        buf.write(f"{name}\t\t\t{value}\t{int(value * 0.9)}\t{int(value * 0.9)}\t\t\t\n")
    par = set(par_y.tolist())
    ids = annotation["gene_id"].to_numpy()
    names = annotation["gene_name"].to_numpy()
    types = annotation["gene_type"].to_numpy()
    for i in range(len(ids)):
        buf.write(
            f"{ids[i]}\t{names[i]}\t{types[i]}\t{counts[i]}\t{first[i]}\t{second[i]}\t"
            f"{tpm[i]:.4f}\t{fpkm[i]:.4f}\t{fpkm_uq[i]:.4f}\n"
        )
        if i in par:
            buf.write(f"{ids[i]}_PAR_Y\t{names[i]}\t{types[i]}\t0\t0\t0\t0.0000\t0.0000\t0.0000\n")
    return buf.getvalue()


def write_manifest(path: Path, files: pd.DataFrame) -> None:
    """GDC manifest: ``id filename md5 size state``."""
    out = files[["file_id", "file_name", "md5", "size"]].rename(
        columns={"file_id": "id", "file_name": "filename"})
    out["state"] = "released"
    out.to_csv(path, sep="\t", index=False)


def write_sample_sheet(path: Path, files: pd.DataFrame, layout: str) -> None:
    """GDC sample sheet, in the pre-2025 or the 2025 portal layout."""
    normal = files["sample_type_code"] == "11"
    base = pd.DataFrame(
        {
            "File ID": files["file_id"],
            "File Name": files["file_name"],
            "Data Category": DATA_CATEGORY,
            "Data Type": DATA_TYPE,
            "Project ID": "TCGA-HNSC",
            "Case ID": files["patient"],
            "Sample ID": files["sample"],
        }
    )
    if layout == "pre2025":
        base["Sample Type"] = np.where(normal, "Solid Tissue Normal", "Primary Tumor")
    else:
        base["Tissue Type"] = np.where(normal, "Normal", "Tumor")
        base["Tumor Descriptor"] = np.where(normal, "Not Applicable", "Primary")
        base["Specimen Type"] = "Solid Tissue"
        base["Preservation Method"] = np.where(files["preservation_ffpe"], "FFPE", "Unknown")
    base.to_csv(path, sep="\t", index=False)


def write_cart_metadata(path: Path, files: pd.DataFrame) -> None:
    """The portal's cart metadata JSON: each file with its aliquot (``associated_entities``)."""
    entries = []
    for row in files.itertuples(index=False):
        entries.append(
            {
                "data_format": "TSV",
                "access": "open",
                "associated_entities": [
                    {
                        "entity_submitter_id": row.aliquot,
                        "entity_type": "aliquot",
                        "case_id": row.case_uuid,
                        "entity_id": row.aliquot_uuid,
                    }
                ],
                "file_name": row.file_name,
                "submitter_id": f"{row.aliquot}_star_counts",
                "data_category": DATA_CATEGORY,
                "annotations": [],
                "analysis": {"workflow_type": "STAR - Counts"},
                "file_size": int(row.size),
                "md5sum": row.md5,
                "file_id": row.file_id,
                "data_type": DATA_TYPE,
                "state": "released",
                "experimental_strategy": "RNA-Seq",
            }
        )
    path.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")


def _stage_letters(stage: str) -> tuple[str, str, str]:
    t = {"Stage I": "T1", "Stage II": "T2", "Stage III": "T3"}.get(stage, "T4a")
    n = {"Stage IVA": "N2b", "Stage IVB": "N3", "Stage IVC": "N2c", "Stage III": "N1"}.get(stage, "N0")
    m = "M1" if stage == "Stage IVC" else "M0"
    return t, n, m


def clinical_rows(patients: pd.DataFrame, rng: np.random.Generator) -> list[dict[str, str]]:
    """Per-case facts with their treatments and follow-ups (layout-independent)."""
    rows = []
    for p in patients.itertuples(index=False):
        dead = bool(p.OS)
        last = int(p._asdict()["OS_time"])
        n_fu = int(rng.integers(1, 4))
        earlier = rng.uniform(min(30, last / 2), last, size=n_fu - 1)
        follow = sorted({int(v) for v in earlier} | {last})
        if dead:
            follow = [f for f in follow if f < last] or [max(last - 30, 1)]
        treatments = ["Pharmaceutical Therapy, NOS", "Radiation Therapy, NOS"]
        if rng.random() < 0.6:
            treatments.append("Surgery, NOS")
        t, n, m = _stage_letters(p.stage)
        rows.append(
            {
                "case_id": p.case_uuid, "submitter_id": p.patient, "age": str(p.age),
                "gender": p.gender, "vital_status": "Dead" if dead else "Alive",
                "days_to_death": str(last) if dead else MISSING,
                # the diagnosis-level follow-up is often older than the follow-up records
                "days_to_last_follow_up": (str(follow[0]) if rng.random() < 0.7 else MISSING),
                "follow_ups": follow, "treatments": treatments,
                "stage": p.stage, "t": t, "n": n, "m": m,
                "primary_diagnosis": "Squamous cell carcinoma, NOS",
                "tissue": str(rng.choice(["Tongue, NOS", "Larynx, NOS", "Floor of mouth, NOS",
                                          "Tonsil", "Hypopharynx, NOS"])),
                "tobacco": str(rng.choice(["Current Smoker", "Lifelong Non-Smoker",
                                           "Current Reformed Smoker for > 15 yrs", MISSING])),
            }
        )
    return rows


def write_clinical(path: Path, facts: list[dict[str, object]], layout: str) -> None:
    """GDC ``clinical.tsv``: one row per treatment (and, in 2025, per follow-up)."""
    lines: list[dict[str, object]] = []
    for f in facts:
        follow = f["follow_ups"]
        for treatment in f["treatments"]:  # type: ignore[attr-defined]
            if layout == "pre2025":
                lines.append(
                    {
                        "case_id": f["case_id"], "case_submitter_id": f["submitter_id"],
                        "project_id": "TCGA-HNSC", "age_at_index": f["age"],
                        "age_is_obfuscated": "false", "cause_of_death": MISSING,
                        "days_to_birth": str(-int(f["age"]) * 365 - 100),  # type: ignore[call-overload]
                        "days_to_death": f["days_to_death"], "ethnicity": "not reported",
                        "gender": f["gender"], "race": "white", "vital_status": f["vital_status"],
                        "ajcc_pathologic_m": f["m"], "ajcc_pathologic_n": f["n"],
                        "ajcc_pathologic_stage": f["stage"], "ajcc_pathologic_t": f["t"],
                        "ajcc_staging_system_edition": "7th",
                        "days_to_last_follow_up": max(follow),  # type: ignore[type-var]
                        "primary_diagnosis": f["primary_diagnosis"],
                        "site_of_resection_or_biopsy": f["tissue"],
                        "tissue_or_organ_of_origin": f["tissue"],
                        "treatment_or_therapy": "yes", "treatment_type": treatment,
                    }
                )
            else:
                for day in follow:  # type: ignore[attr-defined]
                    lines.append(
                        {
                            "cases.case_id": f["case_id"], "cases.submitter_id": f["submitter_id"],
                            "project.project_id": "TCGA-HNSC",
                            "cases.disease_type": "Squamous Cell Neoplasms",
                            "cases.primary_site": "Other and ill-defined sites in lip, oral cavity and pharynx",
                            "demographic.age_at_index": f["age"],
                            "demographic.days_to_death": f["days_to_death"],
                            "demographic.gender": f["gender"], "demographic.race": "white",
                            "demographic.vital_status": f["vital_status"],
                            "diagnoses.ajcc_pathologic_m": f["m"], "diagnoses.ajcc_pathologic_n": f["n"],
                            "diagnoses.ajcc_pathologic_stage": f["stage"],
                            "diagnoses.ajcc_pathologic_t": f["t"],
                            "diagnoses.days_to_last_follow_up": f["days_to_last_follow_up"],
                            "diagnoses.primary_diagnosis": f["primary_diagnosis"],
                            "diagnoses.tissue_or_organ_of_origin": f["tissue"],
                            "exposures.tobacco_smoking_status": f["tobacco"],
                            "follow_ups.days_to_follow_up": str(day),
                            "follow_ups.timepoint_category": "Follow-up",
                            "treatments.treatment_or_therapy": "yes",
                            "treatments.treatment_type": treatment,
                        }
                    )
    table = pd.DataFrame(lines).astype(str)
    table.to_csv(path, sep="\t", index=False)


def write_cdr(path: Path, patients: pd.DataFrame, rng: np.random.Generator) -> None:
    """TCGA-CDR-style table (Liu et al. 2018, Table S1 columns), one row per patient."""
    n = len(patients)
    grade = rng.choice(["G1", "G2", "G3", "[Not Available]"], size=n, p=[0.12, 0.6, 0.24, 0.04])
    clinical_stage = np.where(rng.random(n) < 0.05, "[Not Available]", patients["stage"])
    dfi = np.where(patients["stage"] == "Stage IVC", "#N/A",
                   np.where(rng.random(n) < 0.3, "[Not Applicable]",
                            patients["progressed"].astype(str)))
    dfi_time = np.where(np.isin(dfi, ["#N/A", "[Not Applicable]"]), "#N/A",
                        patients["PFI.time"].astype(str))
    table = pd.DataFrame(
        {
            "bcr_patient_barcode": patients["patient"],
            "type": "HNSC",
            "age_at_initial_pathologic_diagnosis": patients["age"],
            "gender": patients["gender"].str.upper(),
            "race": "WHITE",
            "ajcc_pathologic_tumor_stage": patients["stage"],
            "clinical_stage": clinical_stage,
            "histological_type": "Head & Neck Squamous Cell Carcinoma",
            "histological_grade": grade,
            "initial_pathologic_dx_year": rng.integers(1995, 2013, size=n),
            "vital_status": np.where(patients["OS"] == 1, "Dead", "Alive"),
            "tumor_status": np.where(patients["progressed"] == 1, "WITH TUMOR", "TUMOR FREE"),
            "last_contact_days_to": np.where(patients["OS"] == 1, "[Not Available]",
                                             patients["OS.time"].astype(str)),
            "death_days_to": np.where(patients["OS"] == 1, patients["OS.time"].astype(str),
                                      "[Not Applicable]"),
            "OS": patients["OS"], "OS.time": patients["OS.time"],
            "DSS": patients["DSS"], "DSS.time": patients["DSS.time"],
            "DFI": dfi, "DFI.time": dfi_time,
            "PFI": patients["PFI"], "PFI.time": patients["PFI.time"],
            "Redaction": "",
        }
    )
    table.to_csv(path, sep="\t", index=False)


def write_biotab_patient(path: Path, patients: pd.DataFrame, rng: np.random.Generator) -> None:
    """BCR Biotab ``nationwidechildrens.org_clinical_patient_hnsc.txt`` (three header rows)."""
    n = len(patients)
    hpv = patients["hpv_positive"].to_numpy()
    known = rng.random(n) < 0.85
    p16 = np.where(known, np.where(hpv == 1, "Positive", "Negative"), "[Not Available]")
    ish_known = rng.random(n) < 0.4
    ish = np.where(ish_known, np.where(hpv == 1, "Positive", "Negative"), "[Not Available]")
    cols = {
        "bcr_patient_uuid": patients["case_uuid"].str.upper(),
        "bcr_patient_barcode": patients["patient"],
        "gender": patients["gender"].str.upper(),
        "age_at_initial_pathologic_diagnosis": patients["age"].astype(str),
        "hpv_status_by_p16_testing": p16,
        "hpv_status_by_ish_testing": ish,
        "ajcc_pathologic_tumor_stage": patients["stage"],
        "lymphnode_neck_dissection_indicator": rng.choice(["YES", "NO"], size=n, p=[0.8, 0.2]),
    }
    cde = {
        "bcr_patient_uuid": ("bcr_patient_uuid", "CDE_ID:"),
        "bcr_patient_barcode": ("bcr_patient_barcode", "CDE_ID:2003301"),
        "gender": ("gender", "CDE_ID:2200604"),
        "age_at_initial_pathologic_diagnosis": ("age_at_initial_pathologic_diagnosis", "CDE_ID:2006657"),
        "hpv_status_by_p16_testing": ("hpv_status_p16", "CDE_ID:2230580"),
        "hpv_status_by_ish_testing": ("hpv_status_ish", "CDE_ID:2230584"),
        "ajcc_pathologic_tumor_stage": ("ajcc_pathologic_tumor_stage", "CDE_ID:3203222"),
        "lymphnode_neck_dissection_indicator": ("lymph_node_neck_dissection_indicator", "CDE_ID:3143651"),
    }
    header = "\t".join(cols) + "\n"
    header += "\t".join(cde[c][0] for c in cols) + "\n"
    header += "\t".join(cde[c][1] for c in cols) + "\n"
    body = pd.DataFrame(cols).to_csv(sep="\t", index=False, header=False)
    path.write_text(header + body, encoding="utf-8")


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
