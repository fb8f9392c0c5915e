"""All GDC STAR count files of a download → one bulk AnnData (samples × genes)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger, progress
from ..errors import InputFileError, UserError
from .barcodes import parse_barcodes, select_aliquots
from .clinical import CDR_ENDPOINTS, read_biotab_patient, read_gdc_clinical, read_tcga_cdr
from .gdc import QC_ROWS, read_cart_metadata, read_sample_sheet, read_star_counts

__all__ = ["find_cart_metadata", "read_gdc_expression"]

PAR_Y = "_PAR_Y"


def newest_match(folder: Path, *patterns: str) -> Path | None:
    """The last (by name) file in ``folder`` matching the first pattern that matches any."""
    for pattern in patterns:
        found = sorted(Path(folder).glob(pattern))
        if found:
            return found[-1]
    return None


def find_cart_metadata(*folders: Path) -> Path | None:
    """The newest ``metadata.cart*.json`` in the first folder that has one."""
    for folder in folders:
        found = newest_match(folder, "metadata.cart*.json")
        if found is not None:
            return found
    return None


def _locate(download_dir: Path, file_id: str, file_name: str) -> Path | None:
    for candidate in (download_dir / file_id / file_name, download_dir / file_name):
        if candidate.is_file():
            return candidate
    return None


def _choose_samples(sheet: pd.DataFrame, cart: pd.DataFrame | None,
                    sample_types: Iterable[str] | None, where: str) -> pd.DataFrame:
    """One row per chosen file, with its barcode (the aliquot where known) and the choice."""
    rows = sheet.copy()
    if cart is not None and not cart.empty:
        aliquot = cart.drop_duplicates("file_id").set_index("file_id")["aliquot"]
        rows["barcode"] = rows["file_id"].map(aliquot)
        unknown = rows["barcode"].isna()
        if unknown.any():
            msg = (f"{where}: file(s) {rows['file_id'][unknown].tolist()[:3]} of the sample sheet "
                   f"are not in the cart metadata JSON; use the metadata file of the same cart")
            raise UserError(msg)
        choice = select_aliquots(rows["barcode"], analyte="RNA", sample_types=sample_types)
        rows = rows.merge(choice[["barcode", "selected", "reason"]], on="barcode", how="left")
    else:
        rows["barcode"] = rows["sample_id"]
        parsed = parse_barcodes(rows["barcode"], where=f"{where}: Sample ID")
        keep = (parsed["sample_type_code"].isin(list(sample_types)).to_numpy()
                if sample_types is not None else np.ones(len(rows), bool))
        rows["selected"] = keep
        rows["reason"] = np.where(keep, "only file of its sample", "sample type not requested")
        dup = rows[keep].duplicated("sample_id", keep=False)
        if dup.any():
            twice = rows[keep][dup]["sample_id"].unique().tolist()
            msg = (f"{where}: sample(s) {twice[:3]} have several files and no aliquot barcodes "
                   f"tell them apart; pass the cart's metadata.cart.json (metadata=) so the "
                   f"Broad replicate rules can choose one aliquot per patient")
            raise UserError(msg)
    return rows


def _merge_clinical(obs: pd.DataFrame, clinical: Path | None, cdr: Path | None,
                    biotab: Path | None) -> pd.DataFrame:
    patient = obs["patient"]
    if clinical is not None:
        gdc = read_gdc_clinical(clinical)
        keep = [c for c in gdc.columns if c not in ("OS", "OS_time")]
        for col in keep:
            obs[col] = patient.map(gdc[col]).to_numpy()
        obs["OS_gdc"] = patient.map(gdc["OS"]).to_numpy() if "OS" in gdc else np.nan
        obs["OS_time_gdc"] = patient.map(gdc["OS_time"]).to_numpy() if "OS" in gdc else np.nan
    if cdr is not None:
        table = read_tcga_cdr(cdr)
        for end in CDR_ENDPOINTS:
            for src, dst in ((end, end), (f"{end}.time", f"{end}_time")):
                if src in table.columns:
                    obs[dst] = patient.map(table[src]).to_numpy()
        for col in ("histological_grade", "clinical_stage", "tumor_status"):
            if col in table.columns:
                obs[col] = patient.map(table[col]).to_numpy()
        if "stage" not in obs.columns and "ajcc_pathologic_tumor_stage" in table.columns:
            obs["stage"] = patient.map(table["ajcc_pathologic_tumor_stage"]).to_numpy()
    if "OS_gdc" in obs.columns and "OS" not in obs.columns:
        obs["OS"], obs["OS_time"] = obs["OS_gdc"], obs["OS_time_gdc"]
    obs["survival_source"] = "TCGA-CDR" if cdr is not None else (
        "GDC clinical" if clinical is not None else "none")
    if biotab is not None:
        bio = read_biotab_patient(biotab)
        for col in ("hpv_status", "hpv_status_by_p16_testing", "hpv_status_by_ish_testing"):
            if col in bio.columns:
                obs[col] = patient.map(bio[col]).to_numpy()
    if "stage" in obs.columns:
        stage = obs["stage"].astype("string")
        late = stage.str.contains(r"Stage (?:III|IV)", regex=True)
        obs["stage_group"] = np.where(stage.isna(), None, np.where(late, "late", "early"))
    return obs


def _tidy_obs(obs: pd.DataFrame) -> pd.DataFrame:
    for col in obs.columns:
        if obs[col].dtype == object:
            values = obs[col].where(obs[col].notna(), None)
            if all(isinstance(v, (str, type(None))) for v in values):
                obs[col] = pd.Categorical(values)
            else:
                obs[col] = values.astype(str)
    return obs


def read_gdc_expression(
    download_dir: str | Path,
    sample_sheet: str | Path,
    *,
    metadata: str | Path | None = None,
    clinical: str | Path | None = None,
    cdr: str | Path | None = None,
    biotab: str | Path | None = None,
    sample_types: Iterable[str] | None = ("01",),
) -> ad.AnnData:
    """Every chosen STAR counts file of a GDC download in one AnnData (samples × genes).

    Parameters
    ----------
    download_dir
        The download folder: files at ``<file_id>/<file_name>`` (as the GDC tools write them) or
        directly inside it.
    sample_sheet
        The GDC sample sheet (either portal layout).
    metadata
        The cart's ``metadata.cart*.json``, which holds each file's aliquot barcode; looked for
        beside the sample sheet and in ``download_dir`` when not given. With it, one aliquot per
        patient and sample type is chosen by the Broad GDAC rules (:func:`select_aliquots`);
        without it, each sample must have a single file.
    clinical, cdr, biotab
        GDC ``clinical.tsv``, the TCGA-CDR table and the Biotab patient file, merged into
        ``.obs`` by patient (first 12 characters of the barcode).
    sample_types
        Sample type codes to keep (default ``("01",)``, primary tumours); ``None`` keeps all.

    Returns
    -------
    AnnData
        ``layers["counts"]`` the integer ``unstranded`` counts, ``layers["tpm"]`` the files'
        ``tpm_unstranded``, ``X`` log2(CPM + 1). ``.var`` is indexed by the versionless Ensembl ID
        with ``gene_id`` (versioned), ``gene_name``, ``gene_type`` and ``symbol_unique`` (the
        symbol, suffixed with the ID where a symbol maps to several genes); ``_PAR_Y`` rows are
        dropped. ``.obs`` (indexed by barcode) holds the barcode fields, the sample-sheet
        columns, the STAR ``N_`` counts and the merged clinical and survival columns
        (``OS, OS_time, DSS, DSS_time, DFI, DFI_time, PFI, PFI_time`` in days, from the TCGA-CDR
        when given, else ``OS``/``OS_time`` by the GDC rule). ``.uns["ingest"]`` records the
        parameters, the aliquot choices and files that could not be read (``failures``).
    """
    download_dir = Path(download_dir)
    sheet_path = Path(sample_sheet)
    if not download_dir.is_dir():
        msg = f"{download_dir}: not a folder (expected the GDC download folder)"
        raise InputFileError(msg)
    sheet = read_sample_sheet(sheet_path)
    meta_path = Path(metadata) if metadata is not None else find_cart_metadata(
        sheet_path.parent, download_dir)
    cart = read_cart_metadata(meta_path) if meta_path is not None else None
    types = tuple(sample_types) if sample_types is not None else None
    rows = _choose_samples(sheet, cart, types, str(sheet_path))
    chosen = rows[rows["selected"]].reset_index(drop=True)
    if chosen.empty:
        msg = f"{sheet_path}: no file of sample type(s) {types} to read"
        raise UserError(msg)

    failures: list[dict[str, str]] = []
    counts: list[np.ndarray] = []
    tpms: list[np.ndarray] = []
    qcs: list[np.ndarray] = []
    kept: list[int] = []
    reference: pd.DataFrame | None = None
    for i in progress(range(len(chosen)), description="reading STAR counts"):
        row = chosen.iloc[i]
        path = _locate(download_dir, row["file_id"], row["file_name"])
        if path is None:
            failures.append({"barcode": row["barcode"], "file_id": row["file_id"],
                             "reason": f"{row['file_name']} not found under {download_dir}"})
            continue
        try:
            genes, qc = read_star_counts(path)
        except InputFileError as exc:
            failures.append({"barcode": row["barcode"], "file_id": row["file_id"],
                             "reason": str(exc)})
            continue
        if reference is None:
            reference = genes[["gene_id", "gene_name", "gene_type"]]
        elif not np.array_equal(genes["gene_id"].to_numpy(), reference["gene_id"].to_numpy()):
            failures.append({"barcode": row["barcode"], "file_id": row["file_id"],
                             "reason": f"{path}: its genes differ from the first file's "
                                       f"(another gene model?)"})
            continue
        counts.append(genes["unstranded"].to_numpy())
        tpms.append(genes["tpm_unstranded"].to_numpy())
        qcs.append(qc.reindex(list(QC_ROWS)).to_numpy(dtype=float))
        kept.append(i)
    for f in failures:
        logger.warning("skipped %s: %s", f["barcode"], f["reason"])
    if reference is None:
        msg = f"{download_dir}: none of the {len(chosen)} chosen files could be read; first: {failures[0]['reason']}"
        raise UserError(msg)

    keep_gene = ~reference["gene_id"].str.endswith(PAR_Y).to_numpy()
    var = reference[keep_gene].reset_index(drop=True)
    var.index = pd.Index(var["gene_id"].str.split(".").str[0], name="ensembl_id")
    if var.index.duplicated().any():
        msg = f"{download_dir}: gene {var.index[var.index.duplicated()][0]} appears with two versions"
        raise InputFileError(msg)
    dup_symbol = var["gene_name"].duplicated(keep=False)
    var["symbol_unique"] = np.where(dup_symbol, var["gene_name"] + "|" + var.index,
                                    var["gene_name"])
    count_matrix = np.vstack(counts)[:, keep_gene]
    if count_matrix.max(initial=0) >= np.iinfo(np.int32).max:
        msg = f"{download_dir}: a count exceeds 2^31; is this really a gene counts file?"
        raise InputFileError(msg)
    count_matrix = count_matrix.astype(np.int32)
    tpm_matrix = np.vstack(tpms)[:, keep_gene].astype(np.float32)
    library = count_matrix.sum(axis=1, dtype=np.int64)
    cpm = count_matrix / np.maximum(library, 1)[:, None] * 1e6
    x = np.log2(cpm + 1.0).astype(np.float32)

    taken = chosen.iloc[kept].reset_index(drop=True)
    parsed = parse_barcodes(taken["barcode"]).reset_index(drop=True)
    sheet_cols = taken.drop(columns=["barcode", "selected", "reason"])
    sheet_cols = sheet_cols.rename(columns={c: f"sheet_{c}" for c in sheet_cols.columns
                                            if c in parsed.columns})
    obs = pd.concat([parsed.drop(columns=["barcode"]), sheet_cols], axis=1)
    obs.index = pd.Index(taken["barcode"].to_numpy(), name="barcode")
    obs["library_size"] = library
    for k, name in enumerate(QC_ROWS):
        obs[name] = np.vstack(qcs)[:, k]
    obs = _merge_clinical(obs, Path(clinical) if clinical else None,
                          Path(cdr) if cdr else None, Path(biotab) if biotab else None)
    adata = ad.AnnData(X=x, obs=_tidy_obs(obs), var=var)
    adata.layers["counts"] = count_matrix
    adata.layers["tpm"] = tpm_matrix
    not_chosen = rows[~rows["selected"]]
    adata.uns["ingest"] = {
        "params": {"download_dir": str(download_dir), "sample_sheet": str(sheet_path),
                   "metadata": str(meta_path) if meta_path else "", "clinical": str(clinical or ""),
                   "cdr": str(cdr or ""), "biotab": str(biotab or ""),
                   "sample_types": list(types) if types is not None else "all",
                   "layout": str(sheet["layout"].iloc[0])},
        "failures": pd.DataFrame(failures, columns=["barcode", "file_id", "reason"]),
        "not_chosen": not_chosen[["barcode", "file_id", "reason"]].reset_index(drop=True),
        "n_files": int(len(sheet)),
    }
    logger.info("assembled %d samples × %d genes from %d files (%d not chosen, %d unreadable)",
                adata.n_obs, adata.n_vars, len(sheet), len(not_chosen), len(failures))
    return adata

