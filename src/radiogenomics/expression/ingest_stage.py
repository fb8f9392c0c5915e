"""Stage ``ingest``: a GDC download (STAR counts, sample sheet, cart metadata, clinical, TCGA-CDR,
Biotab) → ``bulk.h5ad``, ``samples.tsv``, ``not_chosen.tsv`` and ``failures.tsv``; and its
report section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._files import atomic_write_h5ad, atomic_write_tsv
from ..config import AnalysisConfig
from ..errors import UserError
from ..io import read_gdc_expression, read_sample_sheet
from ..io.expression import newest_match
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock


@dataclass(frozen=True)
class GDCFiles:
    """The files of one GDC download the stage reads (optional ones may be ``None``)."""

    counts_dir: Path
    sample_sheet: Path
    metadata: Path | None
    clinical: Path | None
    cdr: Path | None
    biotab: Path | None

    def inputs(self) -> list[Path]:
        """Every file read: the tables and the counts files the sample sheet lists."""
        out = [p for p in (self.sample_sheet, self.metadata, self.clinical, self.cdr,
                           self.biotab) if p is not None]
        try:
            sheet = read_sample_sheet(self.sample_sheet)
        except UserError:
            return out
        for fid, name in zip(sheet["file_id"], sheet["file_name"], strict=True):
            for candidate in (self.counts_dir / fid / name, self.counts_dir / name):
                if candidate.is_file():
                    out.append(candidate)
                    break
        return out


def discover_gdc_files(folder: Path, *, counts_dir: Path | None = None,
                       sample_sheet: Path | None = None, metadata: Path | None = None,
                       clinical: Path | None = None, cdr: Path | None = None,
                       biotab: Path | None = None) -> GDCFiles:
    """The files of a GDC download in ``folder``, found by their GDC names unless given."""
    counts = counts_dir or (folder / "counts" if (folder / "counts").is_dir() else folder)
    sheet = sample_sheet or newest_match(folder, "gdc_sample_sheet*.tsv")
    if sheet is None:
        msg = (f"{folder}: no gdc_sample_sheet*.tsv; give the GDC sample sheet of the download "
               f"(ingest.sample_sheet)")
        raise UserError(msg)
    return GDCFiles(
        counts_dir=counts, sample_sheet=sheet,
        metadata=metadata or newest_match(folder, "metadata.cart*.json"),
        clinical=clinical or newest_match(folder, "clinical.tsv", "clinical*.tsv"),
        cdr=cdr or newest_match(folder, "TCGA-CDR-SupplementalTableS1.tsv",
                           "TCGA-CDR-SupplementalTableS1.xlsx", "TCGA-CDR*.tsv"),
        biotab=biotab or newest_match(folder, "nationwidechildrens.org_clinical_patient_*.txt"),
    )


def gdc_files(cfg: AnalysisConfig, run_dir: Path) -> GDCFiles:
    """Where the analysis' GDC files are: the config's, else found by name in ``gdc_dir`` (by
    default the simulated world's ``gdc/``)."""
    from ..simulate.stage import world_dir

    icfg = cfg.ingest
    if icfg.gdc_dir is not None:
        folder = icfg.gdc_dir
    elif icfg.sample_sheet is not None:
        folder = icfg.sample_sheet.parent
    else:
        folder = world_dir(run_dir / "simulate") / "gdc"
    return discover_gdc_files(folder, counts_dir=icfg.counts_dir,
                              sample_sheet=icfg.sample_sheet, metadata=icfg.metadata,
                              clinical=icfg.clinical, cdr=icfg.cdr, biotab=icfg.biotab)


def external_inputs(cfg: AnalysisConfig) -> list[Path]:
    """Files outside the run directory the stage reads; none for the simulated world, whose
    files the ``simulate`` stage's fingerprint already covers."""
    if cfg.ingest.gdc_dir is None and cfg.ingest.sample_sheet is None:
        return []
    return gdc_files(cfg, Path(".")).inputs()


def read_download(files: GDCFiles, sample_types: list[str] | None) -> ad.AnnData:
    """:func:`radiogenomics.io.read_gdc_expression` over the files of one download."""
    return read_gdc_expression(
        files.counts_dir, files.sample_sheet, metadata=files.metadata, clinical=files.clinical,
        cdr=files.cdr, biotab=files.biotab, sample_types=sample_types)


def write_outputs(adata: ad.AnnData, out: Path) -> None:
    """``bulk.h5ad``, ``samples.tsv`` (obs), ``not_chosen.tsv`` and ``failures.tsv`` in ``out``
    (each written under a temporary name, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    info = adata.uns["ingest"]
    atomic_write_tsv(out / "failures.tsv", info.pop("failures"))
    atomic_write_tsv(out / "not_chosen.tsv", info.pop("not_chosen"))
    atomic_write_tsv(out / "samples.tsv", adata.obs, index=True)
    atomic_write_h5ad(out / "bulk.h5ad", adata)


def run(ctx: StageContext) -> None:
    """Assemble the bulk AnnData of the analysis' GDC download and write it."""
    files = gdc_files(ctx.config, ctx.run_dir)
    write_outputs(read_download(files, ctx.config.ingest.sample_types), ctx.out_dir)


def report_sections(stage_dir: Path) -> list[Section]:
    """The transcriptome cohort: samples, skipped aliquots, library sizes, clinical mix."""
    from ..io import SAMPLE_TYPES
    from ..report.figures import box_by_group

    adata = ad.read_h5ad(stage_dir / "bulk.h5ad", backed="r")
    obs = adata.obs.copy()
    n_genes = adata.n_vars
    params = adata.uns["ingest"]["params"]
    adata.file.close()
    not_chosen = pd.read_csv(stage_dir / "not_chosen.tsv", sep="\t", dtype=str, keep_default_na=False)
    failures = pd.read_csv(stage_dir / "failures.tsv", sep="\t", dtype=str, keep_default_na=False)
    kept = ", ".join(f"{code} ({SAMPLE_TYPES.get(str(code), 'sample type ' + str(code))})"
                     for code in params.get("sample_types") or [])
    blocks = [TextBlock(
        f"{len(obs)} samples ({obs['patient'].nunique()} patients) × {n_genes} genes from the "
        f"GDC STAR counts ({params.get('layout', '?')} sample-sheet layout); sample types kept: "
        f"{kept or 'all'}. {len(not_chosen)} file(s) not chosen (replicate aliquots "
        f"by the Broad GDAC rules, other sample types), {len(failures)} unreadable. Survival "
        f"from {obs['survival_source'].iloc[0] if 'survival_source' in obs else 'none'}.")]
    if len(not_chosen):
        blocks.append(TableBlock(not_chosen, name="aliquots_not_chosen",
                                 caption="Files left out, with the rule that left them out."))
    if len(failures):
        blocks.append(TableBlock(failures, name="ingest_failures",
                                 caption="Counts files that could not be read."))
    group = next((c for c in ("hpv_status", "stage_group") if c in obs and obs[c].notna().any()),
                 None)
    if group is not None:
        data = pd.DataFrame({"barcode": obs.index, group: obs[group].astype(str).to_numpy(),
                             "library_size_millions": obs["library_size"].to_numpy() / 1e6})
        blocks.append(FigureBlock(
            box_by_group(data, value="library_size_millions", group=group, hover="barcode",
                         title=f"Library size by {group.replace('_', ' ')}",
                         value_label="assigned reads (millions)"),
            data=data, name="library_sizes",
            caption="Reads assigned to genes per sample (sum of the unstranded counts)."))
    clinical_cols = [c for c in ("stage_group", "hpv_status", "gender") if c in obs]
    if clinical_cols:
        rows = []
        for col in clinical_cols:
            counts = obs[col].astype("string").fillna("missing").value_counts()
            rows += [{"variable": col, "value": k, "n": int(v)} for k, v in counts.items()]
        if "OS" in obs:
            rows.append({"variable": "OS events", "value": "deaths",
                         "n": int(np.nansum(obs["OS"].to_numpy(dtype=float)))})
        blocks.append(TableBlock(pd.DataFrame(rows), name="transcriptome_cohort",
                                 caption="Clinical make-up of the transcriptome cohort."))
    return [Section(id="transcriptome", title="Transcriptome cohort (TCGA-HNSC layout)",
                    blocks=blocks)]
