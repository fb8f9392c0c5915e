"""Command line: ``radiogenomics run|status|simulate|extract|ingest|predict|report|fetch|verify``.

User errors print one clear message and exit with code 2, without a traceback (the traceback is
written to the log file at debug level). Each stage sub-command takes explicit input and output
paths so that workflow managers (Snakemake, Nextflow) can call it.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import click

from . import __version__
from ._logging import add_file_handler, configure_cli_logging, logger
from .errors import UserError

#: OSError numbers that describe the machine, not a bug: no space, quota, read-only, permission
_ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
_SET_HELP = "Override a config field, e.g. --set simulate.seed=7 (repeatable)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="radiogenomics")
@click.option("-v", "--verbose", count=True, help="Show debug messages.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also write a debug log here.")
def cli(verbose: int, log_file: str | None) -> None:
    """CT habitat radiomics for occult lymph-node metastasis in cN0 HNSCC, linked to
    TCGA-HNSC transcriptomes: one config, one command, one interactive report."""
    configure_cli_logging(verbose, log_file)


@cli.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (default: the config's run_dir, else runs/<name>).")
@click.option("--force", multiple=True, metavar="STAGE",
              help="Rerun this stage and everything downstream of it (repeatable).")
@click.option("--until", metavar="STAGE", help="Stop after this stage.")
def run_cmd(config: Path, overrides: tuple[str, ...], run_dir: Path | None,
            force: tuple[str, ...], until: str | None) -> None:
    """Run the analysis in CONFIG, skipping stages that are up to date."""
    from .config import load_config
    from .pipeline import run

    cfg = load_config(config, overrides)
    target = run_dir.resolve() if run_dir else cfg.resolved_run_dir()
    target.mkdir(parents=True, exist_ok=True)
    add_file_handler(str(target / "radiogenomics.log"))
    logger.info("analysis %s → %s", cfg.name, target)
    outcome = run(cfg, run_dir=target, force=force, until=until)
    ran = [k for k, v in outcome.items() if v == "ran"]
    click.echo(f"done: {len(ran)} stage(s) ran, {len(outcome) - len(ran)} up to date; "
               f"run directory {target}")
    if "report" in outcome:
        click.echo(f"report: {cfg.resolved_report_path()}")


@cli.command("status")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path))
def status_cmd(config: Path, overrides: tuple[str, ...], run_dir: Path | None) -> None:
    """Print each stage of CONFIG as done, stale or missing."""
    from .config import load_config
    from .pipeline import STAGES, stage_states

    cfg = load_config(config, overrides)
    states = stage_states(cfg, run_dir.resolve() if run_dir else None)
    width = max(len(s.name) for s in STAGES)
    for stage in STAGES:
        click.echo(f"{stage.name:<{width}}  {states[stage.name]:<7}  {stage.description}")


@cli.command("simulate")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--scale", type=click.Choice(["tiny", "demo", "large"]), default="demo",
              show_default=True, help="tiny: seconds; demo: the study's size; large: 2,340 CT "
                                      "patients and 1,000 tumours (scaling benchmarks).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=2026, show_default=True)
@click.option("--clinical-layout", type=click.Choice(["2025", "pre2025"]), default="2025",
              show_default=True, help="GDC portal layout of clinical.tsv and the sample sheet.")
def simulate_cmd(out: Path, scale: str, seed: int, clinical_layout: str) -> None:
    """Write a simulated study (CT cohorts, GDC transcriptomes, reference) into OUT."""
    from .simulate import world

    summary = world(out, scale=scale, seed=seed, clinical_layout=clinical_layout)  # type: ignore[arg-type]
    click.echo(f"simulated world ({scale}, seed {seed}) in {out}: "
               f"{summary['n_imaging']} CT patients, {summary['n_rnaseq_files']} RNA-seq files")


@cli.command("extract")
@click.argument("cases", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for radiomics.h5ad, qc.tsv and failures.tsv.")
@click.option("--params", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="pyradiomics parameter file (default: the suite's CT parameters).")
@click.option("--n-jobs", type=click.IntRange(1), help="Worker processes (default: all cores).")
@click.option("--executor", type=click.Choice(["process", "dask", "serial"]), default="process",
              show_default=True)
@click.option("--scheduler-address", help="An existing Dask scheduler (with --executor dask).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Per-case cache: reruns extract only new or changed cases.")
@click.option("--max-failure-fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True)
def extract_cmd(cases: Path, out_dir: Path, params: Path | None, n_jobs: int | None,
                executor: str, scheduler_address: str | None, cache_dir: Path | None,
                max_failure_fraction: float) -> None:
    """Extract radiomics features for the cases in CASES (a cases.tsv: patient_id, image, mask)."""
    from .imaging import extract_features
    from .imaging.stage import read_cases, write_outputs

    adata = extract_features(read_cases(cases), params, n_jobs=n_jobs, executor=executor,  # type: ignore[arg-type]
                             scheduler_address=scheduler_address, cache_dir=cache_dir,
                             max_failure_fraction=max_failure_fraction)
    write_outputs(adata, out_dir)
    click.echo(f"{adata.n_obs} cases x {adata.n_vars} features → {out_dir / 'radiomics.h5ad'}; "
               f"{len(adata.uns['failures'])} failed (failures.tsv)")


@cli.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_html", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--title", default="Radiogenomics report", show_default=True)
@click.option("--explorer-images", type=click.IntRange(0, 5000), default=60, show_default=True,
              help="Patients whose CT slices the patient explorer stores.")
@click.option("--export-figures", "export", type=click.Choice(["png", "svg"]),
              help="Also write every figure as a publication file (kaleido + Chromium) into "
                   "a 'figures' folder beside the HTML.")
def report_cmd(run_dir: Path, out_html: Path, title: str, explorer_images: int,
               export: str | None) -> None:
    """Build the HTML report of RUN_DIR (reads only the run directory)."""
    from .report import build_report

    click.echo(str(build_report(run_dir, out_html, title=title, explorer_images=explorer_images)))
    if export:
        from .report.export import export_figures

        written = export_figures(run_dir, out_html.parent / "figures", export)
        click.echo(f"{len(written)} figures: {out_html.parent / 'figures'}")


@cli.command("ingest")
@click.argument("gdc_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for bulk.h5ad, samples.tsv, not_chosen.tsv and failures.tsv.")
@click.option("--sample-sheet", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Default: the newest gdc_sample_sheet*.tsv in GDC_DIR.")
@click.option("--sample-types", default="01", show_default=True,
              help="Comma-separated TCGA sample type codes to keep (01 primary, 11 normal).")
def ingest_cmd(gdc_dir: Path, out_dir: Path, sample_sheet: Path | None, sample_types: str) -> None:
    """Assemble a GDC download in GDC_DIR (STAR counts, sample sheet, cart metadata, clinical,
    TCGA-CDR, Biotab; found by their GDC names) into one bulk AnnData."""
    from .expression.ingest_stage import discover_gdc_files, read_download, write_outputs

    codes = [c.strip() for c in sample_types.split(",") if c.strip()]
    files = discover_gdc_files(gdc_dir.resolve(), sample_sheet=sample_sheet)
    adata = read_download(files, codes)
    write_outputs(adata, out_dir)
    click.echo(f"{adata.n_obs} samples x {adata.n_vars} genes → {out_dir / 'bulk.h5ad'}")


@cli.command("deconvolution-benchmark")
@click.option("--reference", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A raw-count single-cell reference (.h5ad) with cell-type and donor columns.")
@click.option("--pbmc68k", is_flag=True,
              help="Use scanpy's shipped pbmc68k_reduced (700 real immune cells) instead.")
@click.option("--cell-type-key", default="cell_type", show_default=True)
@click.option("--donor-key", default="donor", show_default=True,
              help="Donor column ('none': split the cells into two random halves).")
@click.option("--methods", default="wnnls,nnls,cibersort", show_default=True)
@click.option("--mixtures", type=click.IntRange(5), default=100, show_default=True)
@click.option("--min-log2fc", type=float, default=1.0, show_default=True,
              help="Marker fold change over the next type (lower for closely related types).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write benchmark.tsv (per type) and benchmark_summary.tsv here.")
def deconvolution_benchmark_cmd(reference: Path | None, pbmc68k: bool, cell_type_key: str,
                                donor_key: str, methods: str, mixtures: int, min_log2fc: float,
                                seed: int, out_dir: Path | None) -> None:
    """Pseudo-bulk validation of the deconvolution methods: signature from training donors,
    mixtures with known fractions from held-out donors (standard, a type missing from the
    signature, platform bias); per-type r, RMSE and Lin's concordance with bootstrap CIs."""
    import anndata as ad

    from ._files import atomic_write_tsv
    from .deconvolution.benchmark import pseudobulk_benchmark

    if pbmc68k == (reference is not None):
        msg = "give exactly one of --reference REF.h5ad or --pbmc68k"
        raise UserError(msg)
    if pbmc68k:
        import numpy as np
        import pandas as pd
        import scanpy as sc
        import scipy.sparse as sp

        data = sc.datasets.pbmc68k_reduced()
        # shipped log1p-normalised (.raw): back to the linear scale, rounded to pseudo-counts
        x = data.raw.X
        x = x.toarray() if sp.issparse(x) else np.asarray(x)
        counts = np.round(np.expm1(x) * 10.0).astype(np.float32)
        adata = ad.AnnData(X=sp.csr_matrix(counts), obs=data.obs[["bulk_labels"]].copy(),
                           var=pd.DataFrame(index=data.raw.var_names.astype(str)))
        cell_type_key, donor_key = "bulk_labels", "none"
    else:
        try:
            adata = ad.read_h5ad(reference)
        except (OSError, KeyError, ValueError) as exc:
            raise UserError(f"{reference}: cannot be read as an h5ad file ({exc})") from None
    per_type, summary = pseudobulk_benchmark(
        adata, cell_type_key=cell_type_key, donor_key=None if donor_key == "none" else donor_key,
        methods=[m.strip() for m in methods.split(",") if m.strip()], n_mixtures=mixtures,
        min_log2fc=min_log2fc, seed=seed,
        where=str(reference) if reference is not None else "pbmc68k_reduced")
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out_dir is not None:
        atomic_write_tsv(out_dir / "benchmark.tsv", per_type)
        atomic_write_tsv(out_dir / "benchmark_summary.tsv", summary)


@cli.command("predict")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              required=True, help="A finished model stage folder (runs/<name>/model).")
@click.option("--cases", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="Case table: patient_id, image, mask and the model's clinical columns.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--n-jobs", type=click.IntRange(1), default=2, show_default=True)
@click.option("--executor", type=click.Choice(["process", "dask", "serial"]), default="process",
              show_default=True)
def predict_cmd(model_dir: Path, cases: Path, out_dir: Path, n_jobs: int, executor: str) -> None:
    """Score new patients with a saved model (extraction and habitats use the stored
    parameters); writes predictions.tsv and failures.tsv."""
    from ._files import atomic_write_tsv
    from .imaging.stage import read_cases
    from .model.predict import predict_cases

    table, failures = predict_cases(model_dir, read_cases(cases), n_jobs=n_jobs, executor=executor)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_tsv(out_dir / "predictions.tsv", table, index=True)
    atomic_write_tsv(out_dir / "failures.tsv", failures)
    click.echo(f"{len(table)} case(s) scored, {len(failures)} failed → {out_dir / 'predictions.tsv'}")


@cli.command("fetch")
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Download folder (files land at OUT/<id>/<filename>).")
@click.option("--api", default="https://api.gdc.cancer.gov", show_default=True,
              help="GDC API base URL.")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="GDC authentication token (controlled-access files only).")
@click.option("--retries", type=click.IntRange(0), default=5, show_default=True)
def fetch_cmd(manifest: Path, out_dir: Path, api: str, token_file: Path | None,
              retries: int) -> None:
    """Download the files of MANIFEST (a GDC manifest, or a GDC filters *.json resolved through
    the API) with resume and md5 checks; running it again skips complete files."""
    from .fetch import fetch, load_manifest

    table = load_manifest(manifest, api=api)
    if manifest.suffix.lower() == ".json":
        from ._files import atomic_write_tsv

        atomic_write_tsv(out_dir / "gdc_manifest.txt", table)
    token = token_file.read_text(encoding="utf-8").strip() if token_file else None
    report = fetch(table, out_dir, api=api, token=token, retries=retries)
    counts = report["status"].value_counts()
    click.echo(f"{counts.get('downloaded', 0)} downloaded, {counts.get('present', 0)} already "
               f"present → {out_dir}")


@cli.command("verify")
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
def verify_cmd(manifest: Path, folder: Path) -> None:
    """Re-check the size and md5 of every MANIFEST file under FOLDER (<id>/<filename>)."""
    from .fetch import verify

    table = verify(manifest, folder)
    bad = table[table["status"] != "ok"]
    for row in bad.itertuples():
        click.echo(f"{row.status}: {row.id}/{row.filename}")
    if len(bad):
        msg = f"{len(bad)} of {len(table)} file(s) under {folder} do not match {manifest}"
        raise UserError(msg)
    click.echo(f"all {len(table)} file(s) match {manifest}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``radiogenomics`` console script; returns the exit code."""
    try:
        code = cli.main(args=argv, prog_name="radiogenomics", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except UserError as exc:
        logger.debug("user error", exc_info=True)
        click.echo(f"error: {exc}", err=True)
        return 2
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            return _internal_error(exc)
        # the machine, not the analysis: a full disk, a quota, a read-only or forbidden folder
        logger.debug("cannot write", exc_info=True)
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"error: cannot write{where}: {exc.strerror or exc}; free space or choose "
                   "another folder, then run the command again (finished work is kept)", err=True)
        return 2
    except Exception as exc:  # an internal error: message only, traceback to the log file
        return _internal_error(exc)
    return code if isinstance(code, int) else 0


def _internal_error(exc: BaseException) -> int:
    logger.debug("internal error", exc_info=exc)
    click.echo(f"internal error: {exc.__class__.__name__}: {exc}\n"
               "The traceback is in the log file (--log-file, or the run directory's "
               "radiogenomics.log); please report it.", err=True)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
