"""The stage graph: which stage reads what, writes what, and when it can be skipped.

Each stage writes into ``<run_dir>/<stage>/``. It runs in a temporary folder beside that one and
is renamed into place only when complete, together with a ``stage.json`` that records the
checksums of its inputs, its resolved parameters, package versions and wall time. A stage whose
recorded inputs and parameters match the current ones is skipped; a run killed at any point
resumes from the last completed stage.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._files import HashCache, atomic_write_text, json_dumps, remove_tree
from ._logging import logger
from .config import AnalysisConfig
from . import pseudonyms
from ._stage_records import (
    RECORD,
    expected_key,
    is_current,
    output_fingerprint,
    package_versions,
    read_record,
    stage_params,
)
from .errors import UserError

__all__ = ["STAGES", "Stage", "StageContext", "run", "stage_states"]

State = Literal["done", "stale", "missing"]


@dataclass(frozen=True)
class StageContext:
    """What a stage function receives.

    Attributes
    ----------
    config
        The whole analysis config (a stage reads its own sections).
    out_dir
        The (temporary) folder the stage writes into; renamed into place when the stage returns.
    upstream
        Final folders of the stages this one needs, by stage name.
    run_dir
        The run directory.
    """

    config: AnalysisConfig
    out_dir: Path
    upstream: dict[str, Path]
    run_dir: Path


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    ``run`` and ``report`` are ``"module:function"`` strings, imported when needed so that the
    command line starts fast. ``run(ctx: StageContext) -> None`` writes into ``ctx.out_dir``;
    ``report(stage_dir: Path) -> list[report.Section]`` builds the stage's report sections from
    its finished folder. ``inputs(config)`` lists files outside the run directory that the stage
    reads (their checksums decide whether it is up to date); ``sections`` are the config sections
    that are its parameters; ``outputs`` are files it must produce (relative to its folder);
    ``external_outputs(config)`` are files it writes outside the run directory.
    """

    name: str
    run: str
    description: str
    needs: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    report: str | None = None
    inputs: Callable[[AnalysisConfig], list[Path]] = field(default=lambda cfg: [])
    external_outputs: Callable[[AnalysisConfig], list[Path]] = field(default=lambda cfg: [])
    packages: tuple[str, ...] = ("numpy", "pandas")

    def load(self, attr: Literal["run", "report"]) -> Callable[..., Any]:
        target = getattr(self, attr)
        module, _, func = target.partition(":")
        return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def _simulate_inputs(cfg: AnalysisConfig) -> list[Path]:
    return [cfg.simulate.path] if cfg.simulate.path is not None else []


def _external_inputs(module: str) -> Callable[[AnalysisConfig], list[Path]]:
    """The ``external_inputs(cfg)`` of a stage module, imported only when called."""

    def inputs(cfg: AnalysisConfig) -> list[Path]:
        return importlib.import_module(module).external_inputs(cfg)  # type: ignore[no-any-return]

    return inputs


def _report_outputs(cfg: AnalysisConfig) -> list[Path]:
    return [cfg.resolved_report_path()]


#: The pipeline, in the order the stages run.
STAGES: tuple[Stage, ...] = (
    Stage(
        name="simulate",
        run="radiogenomics.simulate.stage:run",
        report="radiogenomics.simulate.stage:report_sections",
        description="the embedded simulated world (imaging cohorts, transcriptomes, reference)",
        sections=("simulate",),
        outputs=("world.json",),
        inputs=_simulate_inputs,
        packages=("numpy", "pandas", "SimpleITK", "pydicom", "anndata"),
    ),
    Stage(
        name="extract",
        run="radiogenomics.imaging.stage:run",
        report="radiogenomics.imaging.stage:report_sections",
        description="CT/mask ingest, per-case QC and pyradiomics features",
        needs=("simulate",),
        sections=("extract",),
        outputs=("radiomics.h5ad", "qc.tsv", "failures.tsv"),
        inputs=_external_inputs("radiogenomics.imaging.stage"),
        packages=("numpy", "pandas", "SimpleITK", "pydicom", "pyradiomics-bhklab", "anndata"),
    ),
    Stage(
        name="habitats",
        run="radiogenomics.imaging.habitat_stage:run",
        report="radiogenomics.imaging.habitat_stage:report_sections",
        description="habitat radiomics: training-fitted intratumoral subregions",
        needs=("simulate", "extract"),
        sections=("extract", "habitats"),
        outputs=("radiomics.h5ad", "model.json", "habitats.tsv", "stability.json"),
        inputs=_external_inputs("radiogenomics.imaging.stage"),
        packages=("numpy", "scikit-learn", "SimpleITK", "pyradiomics-bhklab", "anndata"),
    ),
    Stage(
        name="robustness",
        run="radiogenomics.model.robustness:run",
        description="feature robustness: ICC under mask and image perturbations (training patients)",
        needs=("simulate", "extract"),
        sections=("extract", "robustness"),
        outputs=("icc.tsv", "patients.tsv"),
        inputs=_external_inputs("radiogenomics.imaging.stage"),
        packages=("numpy", "SimpleITK", "pyradiomics-bhklab"),
    ),
    Stage(
        name="model",
        run="radiogenomics.model.stage:run",
        report="radiogenomics.model.report:report_sections",
        description="occult-LNM models fitted on training, evaluated per cohort (AUC, DeLong, DCA)",
        needs=("simulate", "extract", "habitats", "robustness"),
        sections=("model",),
        outputs=("metrics.tsv", "predictions.tsv", "model.skops", "model.json"),
        packages=("numpy", "pandas", "scikit-learn", "skops", "statsmodels"),
    ),
    Stage(
        name="ingest",
        run="radiogenomics.expression.ingest_stage:run",
        report="radiogenomics.expression.ingest_stage:report_sections",
        description="GDC STAR counts, sample sheet and clinical tables into bulk.h5ad",
        needs=("simulate",),
        sections=("ingest",),
        outputs=("bulk.h5ad", "samples.tsv", "not_chosen.tsv", "failures.tsv"),
        inputs=_external_inputs("radiogenomics.expression.ingest_stage"),
        packages=("numpy", "pandas", "anndata"),
    ),
    Stage(
        name="link",
        run="radiogenomics.expression.link_stage:run",
        report="radiogenomics.expression.link_stage:report_sections",
        description="the rad-score of the transcriptome cohort's CT joined to the bulk AnnData",
        needs=("model", "ingest"),
        sections=("link",),
        outputs=("bulk.h5ad", "linked.tsv", "unmatched.tsv"),
        packages=("numpy", "pandas", "anndata"),
    ),
    Stage(
        name="de",
        run="radiogenomics.expression.de_stage:run",
        report="radiogenomics.expression.de_stage:report_sections",
        description="differential expression, high vs low rad-score (PyDESeq2), and VST",
        needs=("link",),
        sections=("de",),
        outputs=("results.tsv", "vst.h5ad", "pca.tsv", "heatmap.tsv", "params.json"),
        packages=("numpy", "pandas", "anndata", "pydeseq2", "scikit-learn", "statsmodels"),
    ),
    Stage(
        name="gsea",
        run="radiogenomics.expression.gsea_stage:run",
        report="radiogenomics.expression.gsea_stage:report_sections",
        description="gene-set enrichment between rad-score groups (gseapy), pathway scores",
        needs=("simulate", "de"),
        sections=("gsea",),
        outputs=("gsea.tsv", "ranking.tsv", "pathway_scores.tsv", "samples.tsv", "params.json"),
        inputs=_external_inputs("radiogenomics.expression.gsea_stage"),
        packages=("numpy", "pandas", "anndata", "gseapy"),
    ),
    Stage(
        name="deconvolve",
        run="radiogenomics.deconvolution.stage:run",
        report="radiogenomics.deconvolution.stage:report_sections",
        description="cell-type fractions from a single-cell signature (weighted NNLS), by group",
        needs=("simulate", "habitats", "link", "de", "gsea"),
        sections=("deconvolve",),
        outputs=("fractions.tsv", "signature.tsv", "group_tests.tsv", "correlations.tsv",
                 "dotplot.tsv", "params.json"),
        inputs=_external_inputs("radiogenomics.deconvolution.stage"),
        packages=("numpy", "pandas", "anndata", "scanpy", "scikit-learn", "scipy"),
    ),
    Stage(
        name="survival",
        run="radiogenomics.survival.stage:run",
        report="radiogenomics.survival.stage:report_sections",
        description="Kaplan–Meier, log-rank, Cox models and the rad-score cut-point (lifelines)",
        needs=("link", "gsea", "deconvolve"),
        sections=("survival",),
        outputs=("km_curves.tsv", "km_medians.tsv", "cox.tsv", "ph_test.tsv", "cutpoints.tsv",
                 "notes.tsv", "params.json"),
        packages=("numpy", "pandas", "lifelines", "scipy"),
    ),
    Stage(
        name="report",
        run="radiogenomics.report.stage:run",
        description="the single-file interactive HTML report",
        needs=("simulate", "extract", "habitats", "robustness", "model", "ingest", "link", "de",
               "gsea", "deconvolve", "survival"),
        sections=("report",),
        outputs=("index.html",),
        external_outputs=_report_outputs,
        packages=("plotly", "jinja2"),
    ),
)


def get_stage(name: str, stages: Sequence[Stage] = STAGES) -> Stage:
    for stage in stages:
        if stage.name == name:
            return stage
    known = ", ".join(s.name for s in stages)
    msg = f"unknown stage '{name}'; the stages are: {known}"
    raise UserError(msg)


def descendants(names: Sequence[str], stages: Sequence[Stage] = STAGES) -> set[str]:
    """The named stages and every stage downstream of them."""
    out = set(names)
    for stage in stages:  # stages are listed in topological order
        if any(n in out for n in stage.needs):
            out.add(stage.name)
    return out


def _check_graph(stages: Sequence[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        missing = [n for n in stage.needs if n not in seen]
        if missing:
            msg = f"stage '{stage.name}' needs {missing}, which do not run before it"
            raise ValueError(msg)
        seen.add(stage.name)


# --------------------------------------------------------------------------------------------
# state


def stage_states(
    cfg: AnalysisConfig, run_dir: Path | None = None, stages: Sequence[Stage] = STAGES
) -> dict[str, State]:
    """Each stage's state: ``done`` (would be skipped), ``stale`` (ran, but its inputs or
    parameters changed, or an upstream stage is not done) or ``missing`` (never completed)."""
    run_dir = Path(run_dir) if run_dir is not None else cfg.resolved_run_dir()
    cache = HashCache(run_dir / ".cache" / "checksums.json")
    states: dict[str, State] = {}
    for stage in stages:
        record = read_record(run_dir / stage.name)
        if record is None:
            states[stage.name] = "missing"
            continue
        upstream_ok = all(states.get(n) == "done" for n in stage.needs)
        key = expected_key(stage, cfg, run_dir, cache)
        current = upstream_ok and is_current(record, key, stage, cfg, run_dir / stage.name)
        states[stage.name] = "done" if current else "stale"
    return states


# --------------------------------------------------------------------------------------------
# running


def _clean_leftovers(run_dir: Path) -> None:
    """Remove temporary folders left by a killed run (never a completed stage)."""
    for leftover in run_dir.glob(".*.tmp-*"):
        logger.debug("removing leftover %s", leftover)
        remove_tree(leftover)
    for leftover in run_dir.glob(".*.old-*"):
        remove_tree(leftover)


def _swap_into_place(tmp: Path, final: Path) -> None:
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    remove_tree(old)


def run_stage(stage: Stage, cfg: AnalysisConfig, run_dir: Path, cache: HashCache,
              key: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one stage into a temporary folder and rename it into place; return its record.

    ``key`` is the stage's expected key when the caller has just computed it.
    """
    if key is None:
        key = expected_key(stage, cfg, run_dir, cache)
    if key is None:
        msg = f"stage '{stage.name}' needs {list(stage.needs)} to be completed first"
        raise UserError(msg)
    tmp = run_dir / f".{stage.name}.tmp-{os.getpid()}"
    remove_tree(tmp)
    tmp.mkdir(parents=True)
    ctx = StageContext(
        config=cfg,
        out_dir=tmp,
        upstream={n: run_dir / n for n in stage.needs},
        run_dir=run_dir,
    )
    logger.info("stage %s: running (%s)", stage.name, stage.description)
    start = time.perf_counter()
    try:
        stage.load("run")(ctx)
        missing = [rel for rel in stage.outputs if not (tmp / rel).is_file()]
        if missing:
            msg = f"stage '{stage.name}' finished without writing {missing}"
            raise RuntimeError(msg)
        outputs, fingerprint = output_fingerprint(tmp)
        wall = time.perf_counter() - start
        record = {
            "stage": stage.name,
            **key,
            "params": stage_params(stage, cfg),
            "outputs": outputs,
            "fingerprint": fingerprint,
            "versions": package_versions(stage.packages),
            "wall_time_s": round(wall, 3),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_text(tmp / RECORD, json_dumps(record))
        _swap_into_place(tmp, run_dir / stage.name)
    except BaseException:
        remove_tree(tmp)
        raise
    logger.info("stage %s: done in %.1f s", stage.name, wall)
    return record


def run(
    cfg: AnalysisConfig,
    *,
    run_dir: Path | None = None,
    force: Sequence[str] = (),
    until: str | None = None,
    stages: Sequence[Stage] = STAGES,
) -> dict[str, str]:
    """Run the pipeline, skipping every stage whose inputs and parameters are unchanged.

    Parameters
    ----------
    cfg
        The analysis config.
    run_dir
        Overrides the config's run directory.
    force
        Stages to rerun even when up to date; everything downstream of them reruns too.
    until
        Stop after this stage.
    stages
        The stage graph (the suite's :data:`STAGES` by default).

    Returns
    -------
    dict
        Stage name → ``"ran"`` or ``"skipped"``.
    """
    _check_graph(stages)
    for name in force:
        get_stage(name, stages)
    if until is not None:
        get_stage(until, stages)
    run_dir = Path(run_dir) if run_dir is not None else cfg.resolved_run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(run_dir)
    pseudonymizer = _pseudonymizer(cfg, run_dir)
    cache = HashCache(run_dir / ".cache" / "checksums.json")
    forced = descendants(list(force), stages)
    outcome: dict[str, str] = {}
    try:
        for stage in stages:
            stage_dir = run_dir / stage.name
            key = expected_key(stage, cfg, run_dir, cache)
            if stage.name not in forced:
                if is_current(read_record(stage_dir), key, stage, cfg, stage_dir):
                    logger.info("stage %s: up to date, skipped", stage.name)
                    outcome[stage.name] = "skipped"
                    if stage.name == until:
                        break
                    continue
            run_stage(stage, cfg, run_dir, cache, key)
            outcome[stage.name] = "ran"
            if stage.name == "simulate":
                _register_patients(cfg, run_dir)
            if stage.name == until:
                break
    finally:
        cache.save()
        if pseudonymizer is not None:
            pseudonymizer.save()
            pseudonyms.deactivate()
    return outcome


def _register_patients(cfg: AnalysisConfig, run_dir: Path) -> None:
    """Learn every patient ID of the case table before anything is written (the simulate
    stage already records the world's file paths, which name the patients)."""
    if pseudonyms.active() is None:
        return
    from .imaging.stage import read_cases

    candidates = [cfg.extract.cases]
    if cfg.simulate.path is not None:
        candidates.append(cfg.simulate.path / "imaging" / "cases.tsv")
    candidates.append(run_dir / "simulate" / "world" / "imaging" / "cases.tsv")
    for path in candidates:
        if path is not None and Path(path).is_file():
            read_cases(path)  # registers its IDs with the active pseudonymizer
            return


def _pseudonymizer(cfg: AnalysisConfig, run_dir: Path) -> pseudonyms.Pseudonymizer | None:
    """Activate pseudonymisation for this run (``pseudonymize: true``), refusing to mix
    pseudonymised and plain results in one run directory."""
    marker = run_dir / pseudonyms.MARKER
    if not cfg.pseudonymize:
        if marker.exists():
            msg = (f"{run_dir} holds a pseudonymised run; set pseudonymize: true (with its "
                   "pseudonym_file) or use another run directory")
            raise UserError(msg)
        return None
    if not marker.exists() and any(p.name != ".cache" and not p.name.endswith(".log")
                                   for p in run_dir.iterdir()):
        msg = (f"{run_dir} holds results that are not pseudonymised; pseudonymise into a new "
               "run directory")
        raise UserError(msg)
    p = pseudonyms.Pseudonymizer.open(cfg.resolved_pseudonym_file(), run_dir)
    pseudonyms.activate(p)
    _register_patients(cfg, run_dir)
    atomic_write_text(marker, json_dumps({"pseudonymized": True,
                                          "id": "P + SHA-256(salt + patient ID)[:12]"}))
    logger.info("pseudonymised run: patient IDs are salted hashes; the key is %s", p.path)
    return p
