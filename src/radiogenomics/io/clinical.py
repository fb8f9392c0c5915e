"""Clinical tables: GDC ``clinical.tsv`` (flat pre-2025 and dotted 2025 layouts), the TCGA
Pan-Cancer Clinical Data Resource (TCGA-CDR; TSV or the published XLSX) and the BCR Biotab
patient file (HPV status)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._logging import logger
from ..errors import InputFileError
from .gdc import read_table

__all__ = ["CDR_ENDPOINTS", "read_biotab_patient", "read_gdc_clinical", "read_tcga_cdr"]

GDC_MISSING = ("'--", "--")
CDR_MISSING = ("[Not Available]", "[Not Applicable]", "[Discrepancy]", "[Unknown]",
               "[Not Evaluated]", "[Completed]", "#N/A", "NA", "")
CDR_ENDPOINTS = ("OS", "DSS", "DFI", "PFI")

#: 2025 dotted names and pre-2025 flat names → the reader's column names
_GDC_NAMES = {
    "cases.case_id": "case_id", "case_id": "case_id",
    "cases.submitter_id": "patient", "case_submitter_id": "patient",
    "project.project_id": "project_id", "project_id": "project_id",
    "demographic.age_at_index": "age", "age_at_index": "age",
    "demographic.gender": "gender", "gender": "gender",
    "demographic.race": "race", "race": "race",
    "demographic.vital_status": "vital_status", "vital_status": "vital_status",
    "demographic.days_to_death": "days_to_death", "days_to_death": "days_to_death",
    "diagnoses.days_to_last_follow_up": "days_to_last_follow_up",
    "days_to_last_follow_up": "days_to_last_follow_up",
    "follow_ups.days_to_follow_up": "days_to_follow_up",
    "diagnoses.ajcc_pathologic_stage": "stage", "ajcc_pathologic_stage": "stage",
    "diagnoses.ajcc_pathologic_t": "ajcc_t", "ajcc_pathologic_t": "ajcc_t",
    "diagnoses.ajcc_pathologic_n": "ajcc_n", "ajcc_pathologic_n": "ajcc_n",
    "diagnoses.ajcc_pathologic_m": "ajcc_m", "ajcc_pathologic_m": "ajcc_m",
    "diagnoses.primary_diagnosis": "primary_diagnosis", "primary_diagnosis": "primary_diagnosis",
    "diagnoses.tissue_or_organ_of_origin": "tissue_or_organ_of_origin",
    "tissue_or_organ_of_origin": "tissue_or_organ_of_origin",
    "exposures.tobacco_smoking_status": "tobacco_smoking_status",
    "treatments.treatment_type": "treatment_type", "treatment_type": "treatment_type",
}
_NUMERIC = ("age", "days_to_death", "days_to_last_follow_up", "days_to_follow_up")


def _read(path: Path, what: str, **kwargs: object) -> pd.DataFrame:
    """A tab-separated table as text, every cell a string (missing-value tokens handled later)."""
    return read_table(path, what, dtype=str, keep_default_na=False, **kwargs)


def _numeric(table: pd.DataFrame, col: str, path: Path) -> pd.Series:
    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna() & table[col].notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        msg = (f"{path}: column '{col}' holds {table[col].iloc[i]!r} (row {i + 2}); expected a "
               f"number or a missing-value token")
        raise InputFileError(msg)
    return values


def read_gdc_clinical(path: str | Path) -> pd.DataFrame:
    """A GDC ``clinical.tsv`` (either layout) collapsed to one row per case.

    The pre-2025 flat layout (``case_submitter_id``, ``days_to_last_follow_up``, ...) and the
    2025 dotted layout (``cases.submitter_id``, ``demographic.vital_status``,
    ``follow_ups.days_to_follow_up``, ...) are both read; ``'--`` is missing. The file has one row
    per treatment (and per follow-up); they are collapsed to one row per case: treatments are
    joined, the follow-up is the largest of the diagnosis-level and follow-up-level days.

    Overall survival follows the GDC rule: ``OS`` is 1 if ``vital_status`` is ``Dead``, and
    ``OS_time`` is ``days_to_death`` if dead, else the largest follow-up (days).

    Returns
    -------
    DataFrame
        Indexed by ``patient`` (the case submitter ID, e.g. ``TCGA-CV-7100``), with ``case_id,
        project_id, age, gender, race, vital_status, days_to_death, days_to_last_follow_up,
        stage, ajcc_t, ajcc_n, ajcc_m, primary_diagnosis, tissue_or_organ_of_origin,
        tobacco_smoking_status, treatment_types, OS, OS_time`` (where the file has them).
    """
    path = Path(path)
    raw = _read(path, "GDC clinical.tsv")
    raw = raw.mask(raw.isin([*GDC_MISSING, ""]))
    present = {c: _GDC_NAMES[c] for c in raw.columns if c in _GDC_NAMES}
    if "patient" not in present.values():
        msg = (f"{path}: neither 'cases.submitter_id' (2025 layout) nor 'case_submitter_id' "
               f"(pre-2025 layout) is a column; is this a GDC clinical.tsv?")
        raise InputFileError(msg)
    table = raw[list(present)].rename(columns=present)
    table = table.loc[:, ~table.columns.duplicated()]
    if table["patient"].isna().any():
        i = int(np.flatnonzero(table["patient"].isna().to_numpy())[0])
        raise InputFileError(f"{path}: row {i + 2} has no case submitter ID")
    for col in _NUMERIC:
        if col in table.columns:
            table[col] = _numeric(table, col, path)
    groups = table.groupby("patient", sort=False)
    scalar = [c for c in table.columns if c not in ("patient", "treatment_type",
                                                    "days_to_follow_up")]
    out = groups[scalar].first()
    for col in ("days_to_death", "days_to_last_follow_up"):
        if col in table.columns:
            out[col] = groups[col].max()
    follow = [c for c in ("days_to_last_follow_up", "days_to_follow_up") if c in table.columns]
    last_contact = groups[follow].max().max(axis=1) if follow else pd.Series(np.nan, index=out.index)
    if "treatment_type" in table.columns:
        out["treatment_types"] = groups["treatment_type"].agg(
            lambda s: "; ".join(sorted(set(s.dropna()))))
    if "vital_status" in out.columns:
        dead = out["vital_status"].str.lower().eq("dead")
        known = out["vital_status"].notna()
        death = out["days_to_death"] if "days_to_death" in out.columns else np.nan
        out["OS"] = np.where(known, dead.astype(float), np.nan)
        out["OS_time"] = np.where(dead, death, last_contact)
        out.loc[~known, "OS_time"] = np.nan
        no_time = dead & out["OS_time"].isna()
        if no_time.any():
            logger.warning("%s: %d dead case(s) without days_to_death; their OS time is missing",
                           path.name, int(no_time.sum()))
    logger.debug("%s: %d rows → %d cases", path.name, len(table), len(out))
    return out


def _read_cdr_frame(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xls"):
        try:
            book = pd.read_excel(path, sheet_name=None, dtype=str)
        except FileNotFoundError:
            raise InputFileError(f"{path}: no such file (expected the TCGA-CDR table)") from None
        except Exception as exc:  # openpyxl raises several unrelated types on a bad workbook
            raise InputFileError(f"{path}: cannot be read as an Excel workbook ({exc})") from None
        sheet = "TCGA-CDR" if "TCGA-CDR" in book else next(iter(book))
        frame = book[sheet].fillna("")
        return frame.loc[:, ~frame.columns.astype(str).str.startswith("Unnamed")]
    frame = _read(path, "TCGA-CDR table")
    return frame.loc[:, ~frame.columns.astype(str).str.startswith("Unnamed")]


def read_tcga_cdr(path: str | Path, cancer_type: str | None = None) -> pd.DataFrame:
    """The TCGA-CDR table (Liu et al., Cell 2018, Table S1), as TSV or the published XLSX.

    Missing-value tokens (``[Not Available]``, ``[Not Applicable]``, ``[Discrepancy]``, ``#N/A``,
    ``NA``, ...) become NaN; the endpoints ``OS, DSS, DFI, PFI`` (0/1) and their ``*.time``
    columns (days) are numeric. ``cancer_type`` (e.g. ``"HNSC"``) keeps only that ``type``.

    Returns
    -------
    DataFrame
        Indexed by ``bcr_patient_barcode``, with the table's columns.
    """
    path = Path(path)
    table = _read_cdr_frame(path)
    if "bcr_patient_barcode" not in table.columns:
        msg = f"{path}: no 'bcr_patient_barcode' column; is this the TCGA-CDR table?"
        raise InputFileError(msg)
    table = table.mask(table.isin(list(CDR_MISSING)))
    for end in CDR_ENDPOINTS:
        for col in (end, f"{end}.time"):
            if col in table.columns:
                table[col] = _numeric(table, col, path)
        if end in table.columns:
            bad = table[end].notna() & ~table[end].isin([0, 1])
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                msg = f"{path}: column '{end}' holds {table[end].iloc[i]!r} (row {i + 2}); expected 0 or 1"
                raise InputFileError(msg)
    if "age_at_initial_pathologic_diagnosis" in table.columns:
        table["age_at_initial_pathologic_diagnosis"] = pd.to_numeric(
            table["age_at_initial_pathologic_diagnosis"], errors="coerce")
    if cancer_type is not None and "type" in table.columns:
        table = table[table["type"] == cancer_type]
    dup = table["bcr_patient_barcode"].duplicated()
    if dup.any():
        msg = f"{path}: patient {table['bcr_patient_barcode'][dup].iloc[0]!r} appears more than once"
        raise InputFileError(msg)
    return table.set_index("bcr_patient_barcode")


def read_biotab_patient(path: str | Path) -> pd.DataFrame:
    """A BCR Biotab ``nationwidechildrens.org_clinical_patient_<type>.txt``.

    The file has three header rows (field names, CDE names, CDE IDs). ``[Not Available]``-style
    tokens are missing. Adds ``hpv_status``: ``positive`` if p16 or ISH testing is positive,
    ``negative`` if a test is negative and none positive, else missing.

    Returns
    -------
    DataFrame
        Indexed by ``bcr_patient_barcode``.
    """
    path = Path(path)
    table = _read(path, "BCR Biotab patient file", skiprows=[1, 2])
    if "bcr_patient_barcode" not in table.columns:
        msg = f"{path}: no 'bcr_patient_barcode' column; is this a BCR Biotab patient file?"
        raise InputFileError(msg)
    table = table.mask(table.isin(list(CDR_MISSING)))
    tests = [c for c in ("hpv_status_by_p16_testing", "hpv_status_by_ish_testing")
             if c in table.columns]
    if tests:
        values = table[tests].apply(lambda s: s.str.lower())
        positive = values.eq("positive").any(axis=1)
        negative = values.eq("negative").any(axis=1)
        table["hpv_status"] = np.where(positive, "positive",
                                       np.where(negative, "negative", None))
    return table.set_index("bcr_patient_barcode")
