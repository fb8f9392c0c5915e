"""Stage ``extract``: the case table's CT and masks through QC and pyradiomics into
``radiomics.h5ad``, with ``qc.tsv`` and ``failures.tsv``; and its report section."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._files import atomic_write_h5ad, atomic_write_tsv
from .. import pseudonyms
from ..config import AnalysisConfig
from ..errors import UserError
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .extract import DEFAULT_PARAMS, extract_features
from .qc import QCSettings


def read_cases(path: str | Path) -> pd.DataFrame:
    """A case table with ``image`` and ``mask`` resolved against the table's folder."""
    path = Path(path)
    try:
        cases = pd.read_csv(path, sep="\t", dtype={"patient_id": str})
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read the case table ({exc})"
        raise UserError(msg) from exc
    missing = [c for c in ("patient_id", "image", "mask") if c not in cases.columns]
    if missing:
        msg = f"{path}: missing column(s) {missing}; a case table needs patient_id, image, mask"
        raise UserError(msg)
    dupes = cases["patient_id"][cases["patient_id"].duplicated()].tolist()
    if dupes:
        msg = f"{path}: patient_id {dupes[:5]} listed more than once; each case needs one row"
        raise UserError(msg)
    for col in ("image", "mask"):
        empty = cases["patient_id"][cases[col].isna()].tolist()
        if empty:
            msg = f"{path}: column '{col}' is empty for patient(s) {empty[:5]}"
            raise UserError(msg)
        cases[col] = [str((path.parent / p).resolve()) for p in cases[col]]
    current = pseudonyms.active()
    if current is not None:  # a pseudonymised run: the IDs never go further than this table
        current.register(cases["patient_id"])
        cases["patient_id"] = cases["patient_id"].map(current.pseudonym)
    return cases


def external_inputs(cfg: AnalysisConfig) -> list[Path]:
    """Files outside the run directory the stage reads: the case table, every image and mask
    it lists, and the parameter file."""
    out = [cfg.extract.params or DEFAULT_PARAMS]
    if cfg.extract.cases is not None:
        out.append(cfg.extract.cases)
        try:
            cases = read_cases(cfg.extract.cases)
        except UserError:
            return out
        out += [Path(p) for p in (*cases["image"], *cases["mask"]) if Path(p).exists()]
    return out


def qc_settings(cfg: AnalysisConfig) -> QCSettings:
    """The per-case QC thresholds of the analysis (shared by every imaging stage)."""
    return QCSettings(geometry_tolerance_mm=cfg.extract.geometry_tolerance_mm,
                      min_roi_voxels=cfg.extract.min_roi_voxels)


def cases_path(ctx: StageContext) -> Path:
    """The case table of the analysis: ``extract.cases``, else the simulated world's."""
    from ..simulate.stage import world_dir

    if ctx.config.extract.cases is not None:
        return ctx.config.extract.cases
    return world_dir(ctx.run_dir / "simulate") / "imaging" / "cases.tsv"


def cases_table(ctx: StageContext) -> pd.DataFrame:
    """The case table with image and mask paths resolved."""
    return read_cases(cases_path(ctx))


def run(ctx: StageContext) -> None:
    """Extract every case; write ``radiomics.h5ad``, ``qc.tsv`` and ``failures.tsv``."""
    cfg = ctx.config.extract
    table = cases_path(ctx)
    cases = read_cases(table)
    adata = extract_features(
        cases,
        cfg.params,
        n_jobs=cfg.n_jobs,
        executor=cfg.executor,
        scheduler_address=cfg.scheduler_address,
        cache_dir=ctx.run_dir / ".cache" / "extract",
        qc=qc_settings(ctx.config),
        mask_label=cfg.mask_label,
        allow_resample=cfg.allow_slice_resample,
        max_failure_fraction=cfg.max_failure_fraction,
    )
    adata.uns["extract"]["params"]["cases"] = table.name
    write_outputs(adata, ctx.out_dir)


def write_outputs(adata, out_dir: Path) -> None:  # noqa: ANN001 - AnnData
    """``radiomics.h5ad``, ``qc.tsv`` and ``failures.tsv``, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_h5ad(out_dir / "radiomics.h5ad", adata)
    atomic_write_tsv(out_dir / "qc.tsv", adata.uns["qc"])
    atomic_write_tsv(out_dir / "failures.tsv", adata.uns["failures"])


def report_sections(stage_dir: Path) -> list[Section]:
    """Imaging QC and feature overview."""
    import anndata as ad

    from ..report.figures import box_by_group

    adata = ad.read_h5ad(stage_dir / "radiomics.h5ad")
    qc = pd.read_csv(stage_dir / "qc.tsv", sep="\t", dtype={"patient_id": str, "reason": str},
                     keep_default_na=False, na_values={"roi_mean_hu": ["", "nan"]})
    failures = pd.read_csv(stage_dir / "failures.tsv", sep="\t", dtype=str, keep_default_na=False)
    obs = adata.obs.copy()
    qc_cols = ["patient_id", "status", "roi_voxels", "roi_volume_ml", "roi_mean_hu",
               "grid_offset_mm", "mask_resampled", "image_spacing_mm", "reason"]
    merged = qc.merge(obs[[c for c in ("patient_id", "cohort", "center") if c in obs]],
                      on="patient_id", how="left")
    classes = adata.var.groupby(["image_type", "feature_class"], observed=True).size().rename("n").reset_index()
    n_types = adata.var["image_type"].nunique()
    blocks = [
        TextBlock(
            f"{adata.n_obs} cases extracted, {len(failures)} failed; {adata.n_vars} features "
            f"from {n_types} image types ({', '.join(sorted(adata.var['feature_class'].unique()))})."
        ),
        TableBlock(qc[[c for c in qc_cols if c in qc.columns]], name="imaging_qc",
                   caption="Per-case QC: geometry, ROI size, intensities; resampled masks are flagged."),
    ]
    if len(failures):
        blocks.append(TableBlock(failures, name="extraction_failures",
                                 caption="Cases that could not be extracted, with the reason."))
    if "center" in merged.columns:
        blocks.append(FigureBlock(
            box_by_group(merged[merged["status"] == "pass"], value="roi_volume_ml", group="center",
                         hover="patient_id", title="Tumour (ROI) volume by centre",
                         value_label="ROI volume (ml)"),
            data=merged[["patient_id", "center", "roi_volume_ml", "roi_mean_hu"]],
            name="roi_volume", caption="ROI volumes after QC, per centre."))
    blocks.append(TableBlock(classes, name="feature_classes", caption="Features per image type and class."))
    return [Section(id="imaging", title="Imaging: QC and radiomics features", blocks=blocks)]
