"""GDC files: STAR augmented gene counts, the download manifest, the sample sheet (pre-2025
and 2025 portal layouts) and the cart's metadata JSON."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd

from ..errors import InputFileError

__all__ = ["COUNT_COLUMNS", "QC_ROWS", "read_cart_metadata", "read_gdc_manifest",
           "read_sample_sheet", "read_star_counts", "safe_relative_name"]

COUNT_COLUMNS = ("gene_id", "gene_name", "gene_type", "unstranded", "stranded_first",
                 "stranded_second", "tpm_unstranded", "fpkm_unstranded", "fpkm_uq_unstranded")
INTEGER_COLUMNS = ("unstranded", "stranded_first", "stranded_second")
QC_ROWS = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
MANIFEST_COLUMNS = ("id", "filename", "md5", "size", "state")
SHEET_COMMON = ("File ID", "File Name", "Data Category", "Data Type", "Project ID", "Case ID",
                "Sample ID")
SHEET_2025 = ("Tissue Type", "Tumor Descriptor", "Specimen Type", "Preservation Method")


def read_table(path: Path, what: str, **kwargs: object) -> pd.DataFrame:
    """``pd.read_csv`` of a tab-separated ``what``, with errors that name the file."""
    try:
        return pd.read_csv(path, sep="\t", **kwargs)  # type: ignore[call-overload,no-any-return]
    except FileNotFoundError:
        msg = f"{path}: no such file (expected a {what})"
        raise InputFileError(msg) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot be read as a tab-separated {what} ({exc})"
        raise InputFileError(msg) from None


def _require(table: pd.DataFrame, columns: tuple[str, ...], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        msg = (f"{path}: missing column(s) {missing} of a {what}; found "
               f"{list(table.columns)[:12]}")
        raise InputFileError(msg)


def read_star_counts(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """One GDC ``*.rna_seq.augmented_star_gene_counts.tsv``.

    The file holds a comment line (``# gene-model: GENCODE v36``), the header, the four STAR QC
    rows (``N_unmapped, N_multimapping, N_noFeature, N_ambiguous``) and then one row per gene.

    Returns
    -------
    genes
        One row per gene in file order with the file's columns; the three count columns are
        int64, ``tpm_unstranded``, ``fpkm_unstranded`` and ``fpkm_uq_unstranded`` float.
    qc
        The unstranded value of each ``N_`` row, indexed by its name.

    Raises
    ------
    InputFileError
        On a missing column, a negative or non-integer count, or a duplicated gene ID.
    """
    path = Path(path)
    table = read_table(path, "GDC STAR gene counts file", comment="#", dtype={"gene_id": str},
                        low_memory=False)
    _require(table, COUNT_COLUMNS, path, "GDC STAR gene counts file")
    missing_id = table["gene_id"].isna() | (table["gene_id"].astype(str).str.strip() == "")
    if missing_id.any():
        msg = (f"{path}: row {int(np.flatnonzero(missing_id.to_numpy())[0]) + 3} has no gene_id; "
               "every row of a STAR counts file starts with a gene ID (or an N_ QC name)")
        raise InputFileError(msg)
    is_qc = table["gene_id"].str.startswith("N_")
    qc_rows = table[is_qc]
    genes = table[~is_qc].reset_index(drop=True)
    if genes.empty:
        msg = f"{path}: no gene rows after the header and N_ rows"
        raise InputFileError(msg)
    for col in INTEGER_COLUMNS:
        values = pd.to_numeric(genes[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != np.floor(values))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (f"{path}: column '{col}' of gene {genes['gene_id'].iloc[i]} (row {i + 6}) "
                   f"is {genes[col].iloc[i]!r}; counts must be non-negative integers")
            raise InputFileError(msg)
        genes[col] = values.astype(np.int64)
    for col in ("tpm_unstranded", "fpkm_unstranded", "fpkm_uq_unstranded"):
        genes[col] = pd.to_numeric(genes[col], errors="coerce")
    dup = genes["gene_id"].duplicated()
    if dup.any():
        msg = (f"{path}: gene_id {genes['gene_id'][dup].iloc[0]!r} appears more than once; "
               f"each gene (and each _PAR_Y copy) must have its own row")
        raise InputFileError(msg)
    qc = pd.Series(pd.to_numeric(qc_rows["unstranded"], errors="coerce").to_numpy(),
                   index=qc_rows["gene_id"].to_numpy(), name="unstranded")
    return genes, qc


def safe_relative_name(name: str, where: str) -> str:
    """``name`` if it is a plain relative file name that stays inside its folder.

    Rejects absolute paths, drive letters, ``..`` parts, empty names and control characters (NUL
    included), so that nothing read from a manifest can write outside the download folder.
    """
    text = str(name)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    bad = (
        not text.strip()
        or any(ord(ch) < 32 for ch in text)
        or text.startswith(("/", "\\"))
        or PureWindowsPath(text).drive != ""
        or any(p in ("..", "") for p in parts)
    )
    if bad:
        msg = (f"{where}: file name {text!r} is not a plain relative name (absolute paths, '..', "
               f"drive letters and control characters are refused)")
        raise InputFileError(msg)
    return text


def read_gdc_manifest(path: str | Path) -> pd.DataFrame:
    """A GDC download manifest: ``id filename md5 size state`` (tab-separated).

    ``md5`` may be empty (then ``""``); ``size`` is an integer number of bytes. File names are
    checked with :func:`safe_relative_name`; IDs must be unique.
    """
    path = Path(path)
    try:
        nul = b"\0" in path.read_bytes()
    except OSError:
        nul = False  # reported by the reader below
    if nul:
        msg = f"{path}: contains a NUL byte; a GDC manifest is plain tab-separated text"
        raise InputFileError(msg)
    table = read_table(path, "GDC manifest", dtype=str, keep_default_na=False)
    _require(table, ("id", "filename", "md5", "size"), path, "GDC manifest")
    if "state" not in table.columns:
        table["state"] = ""
    table = table[list(MANIFEST_COLUMNS)].copy()
    for i, row in table.iterrows():
        where = f"{path}: row {int(str(i)) + 2} (id {row['id']})"
        safe_relative_name(row["filename"], where)
        if not row["id"].strip():
            raise InputFileError(f"{path}: row {int(str(i)) + 2} has an empty id")
        if row["md5"] and (len(row["md5"]) != 32 or not all(c in "0123456789abcdef"
                                                            for c in row["md5"].lower())):
            msg = f"{where}: md5 {row['md5']!r} is not 32 hexadecimal digits"
            raise InputFileError(msg)
        if not row["size"].isdigit():
            msg = f"{where}: size {row['size']!r} is not a whole number of bytes"
            raise InputFileError(msg)
    dup = table["id"].duplicated()
    if dup.any():
        msg = f"{path}: id {table['id'][dup].iloc[0]!r} is listed more than once"
        raise InputFileError(msg)
    table["size"] = table["size"].astype(np.int64)
    table["md5"] = table["md5"].str.lower()
    return table.reset_index(drop=True)


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """A GDC sample sheet in either portal layout, one row per (file, sample).

    Pre-2025 sheets carry ``Sample Type``; the 2025 layout (portal 2.4.0) carries ``Tissue Type,
    Tumor Descriptor, Specimen Type, Preservation Method`` instead. Rows of files with several
    samples (comma-separated ``Case ID`` / ``Sample ID`` and per-sample columns) are split.

    Returns columns ``file_id, file_name, data_category, data_type, project_id, case_id,
    sample_id`` plus ``sample_type`` (pre-2025) or ``tissue_type, tumor_descriptor,
    specimen_type, preservation_method`` (2025), and ``layout`` (``"pre2025"`` or ``"2025"``).
    """
    path = Path(path)
    table = read_table(path, "GDC sample sheet", dtype=str, keep_default_na=False)
    _require(table, SHEET_COMMON, path, "GDC sample sheet")
    if "Sample Type" in table.columns:
        layout, extra = "pre2025", ("Sample Type",)
    elif all(c in table.columns for c in SHEET_2025):
        layout, extra = "2025", SHEET_2025
    else:
        msg = (f"{path}: neither 'Sample Type' (pre-2025 layout) nor {list(SHEET_2025)} "
               f"(2025 layout) are present; is this a GDC sample sheet?")
        raise InputFileError(msg)
    cols = [*SHEET_COMMON, *extra]
    rows = []
    for i, row in table[cols].iterrows():
        split = {c: [v.strip() for v in str(row[c]).split(",")] for c in cols}
        n = len(split["Sample ID"])
        for c in cols:
            if len(split[c]) not in (1, n):
                msg = (f"{path}: row {int(str(i)) + 2} (File ID {row['File ID']}) lists "
                       f"{n} samples but {len(split[c])} values in '{c}'")
                raise InputFileError(msg)
        for k in range(n):
            rows.append({c: split[c][k if len(split[c]) == n else 0] for c in cols})
    out = pd.DataFrame(rows, columns=cols)
    out.columns = [c.lower().replace(" ", "_") for c in cols]
    empty = out["file_id"].eq("") | out["sample_id"].eq("")
    if empty.any():
        msg = f"{path}: row {int(np.flatnonzero(empty.to_numpy())[0]) + 2} has an empty File ID or Sample ID"
        raise InputFileError(msg)
    dup = out.duplicated(["file_id", "sample_id"])
    if dup.any():
        msg = f"{path}: File ID {out['file_id'][dup].iloc[0]!r} is listed more than once"
        raise InputFileError(msg)
    out["layout"] = layout
    return out


def read_cart_metadata(path: str | Path) -> pd.DataFrame:
    """The portal's ``metadata.cart.*.json``: one row per (file, aliquot) with ``file_id,
    file_name, md5, size, aliquot, aliquot_id, case_uuid, workflow_type``."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file (expected the cart's metadata JSON)") from None
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        msg = f"{path}: expected a JSON list of file records, found {type(entries).__name__}"
        raise InputFileError(msg)
    rows = []
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or "file_id" not in entry:
            raise InputFileError(f"{path}: record {k} has no file_id")
        for ent in entry.get("associated_entities") or []:
            if ent.get("entity_type") != "aliquot":
                continue
            rows.append({
                "file_id": entry["file_id"], "file_name": entry.get("file_name", ""),
                "md5": entry.get("md5sum", ""), "size": entry.get("file_size"),
                "aliquot": ent.get("entity_submitter_id", ""),
                "aliquot_id": ent.get("entity_id", ""), "case_uuid": ent.get("case_id", ""),
                "workflow_type": (entry.get("analysis") or {}).get("workflow_type", ""),
            })
    return pd.DataFrame(rows, columns=["file_id", "file_name", "md5", "size", "aliquot",
                                       "aliquot_id", "case_uuid", "workflow_type"])
