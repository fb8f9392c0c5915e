"""The typed analysis configuration, one section per stage, loaded from ``analyses/*.yaml``.

Every path in a config file is relative to that file. Unknown keys, wrong types and missing
files are rejected with a message naming the file, the dotted field path and the bad value.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ._config_fields import describe, field_names, leaf_wants_text
from .errors import ConfigError

__all__ = [
    "AnalysisConfig",
    "ExtractConfig",
    "HabitatsConfig",
    "IngestConfig",
    "LinkConfig",
    "ModelConfig",
    "ReportConfig",
    "RobustnessConfig",
    "SimulateConfig",
    "apply_overrides",
    "load_config",
]


def _resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    path = Path(path).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return Path(path).resolve()


def _existing_dir(path: Path, info: ValidationInfo) -> Path:
    path = _resolve(path, info)
    if not path.is_dir():
        msg = f"directory does not exist: {path}"
        raise ValueError(msg)
    return path


def _existing_file(path: Path, info: ValidationInfo) -> Path:
    path = _resolve(path, info)
    if not path.is_file():
        msg = f"file does not exist: {path}"
        raise ValueError(msg)
    return path


#: A path written relative to the config file (need not exist yet: an output).
OutputPath = Annotated[Path, AfterValidator(_resolve)]
#: A file that must exist, relative to the config file.
InputFile = Annotated[Path, AfterValidator(_existing_file)]
#: A directory that must exist, relative to the config file.
InputDir = Annotated[Path, AfterValidator(_existing_dir)]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SimulateConfig(Section):
    """The embedded simulated world (stage ``simulate``).

    With ``path`` unset the world is simulated into the run directory; with ``path`` set, a world
    written earlier by ``radiogenomics simulate`` is used as it is. ``enabled: false`` (real data)
    uses no world: then ``extract.cases``, ``ingest.gdc_dir``, ``gsea.gene_sets`` and
    ``deconvolve.reference`` name the study's own files.
    """

    enabled: bool = True
    path: InputDir | None = None
    scale: Literal["tiny", "demo", "large"] = "demo"
    seed: int = Field(2026, ge=0, le=2**32 - 1)
    clinical_layout: Literal["2025", "pre2025"] = "2025"


class ExtractConfig(Section):
    """CT ingest, per-case QC and pyradiomics extraction (stage ``extract``).

    ``cases`` is a case table (``patient_id``, ``image``, ``mask`` with paths relative to the
    table, cohort, centre, outcome and clinical columns); by default the simulated world's.
    ``params`` is a pyradiomics parameter file; by default the suite's CT parameters
    (``analyses/params/ct.yaml``).
    """

    cases: InputFile | None = None
    params: InputFile | None = None
    n_jobs: int | None = Field(None, ge=1)
    executor: Literal["process", "dask", "serial"] = "process"
    scheduler_address: str | None = None
    max_failure_fraction: float = Field(0.1, ge=0.0, le=1.0)
    min_roi_voxels: int = Field(64, ge=1)
    geometry_tolerance_mm: float = Field(2.0, ge=0.0)
    mask_label: int = Field(1, ge=1)
    allow_slice_resample: bool = False


class HabitatsConfig(Section):
    """Habitat radiomics (stage ``habitats``): supervoxels per tumour, then K population
    habitats fitted on the training cohort only and applied unchanged to the others."""

    train_cohort: str = "train"
    k: int | None = Field(None, ge=2, le=10)
    k_range: tuple[int, int] = (2, 6)
    criterion: Literal["calinski_harabasz", "silhouette", "bic"] = "calinski_harabasz"
    supervoxels: int = Field(50, ge=2)
    window: int = Field(3, ge=3)
    features: list[Literal["hu", "local_entropy", "local_sd"]] = Field(
        default_factory=lambda: ["hu", "local_sd"], min_length=1)
    spatial_weight: float = Field(0.5, ge=0.0)
    bootstrap: int = Field(20, ge=0)
    params: InputFile | None = None
    n_jobs: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)

    @field_validator("k_range")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 2 <= value[0] <= value[1] <= 10:
            msg = "must be [low, high] with 2 <= low <= high <= 10"
            raise ValueError(msg)
        return value

    @field_validator("features")
    @classmethod
    def _with_hu(cls, value: list[str]) -> list[str]:
        if "hu" not in value:
            msg = "must include 'hu' (habitats are ordered and matched by their mean HU)"
            raise ValueError(msg)
        return value

    @field_validator("window")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            msg = "must be odd (a cube centred on the voxel)"
            raise ValueError(msg)
        return value


class RobustnessConfig(Section):
    """Perturbation robustness of the whole-tumour features (stage ``robustness``): ICC(1,1)
    over mask erosion, dilation, an in-plane shift, added noise (SD ``noise_hu``) and CT numbers
    shifted by ±``hu_shift``, on ``patients`` randomly chosen patients of ``train_cohort`` (the
    training cohort only)."""

    train_cohort: str = "train"
    patients: int = Field(40, ge=3)
    noise_hu: float = Field(10.0, ge=0.0)
    hu_shift: float = Field(10.0, ge=0.0)
    seed: int = Field(0, ge=0)


class ModelConfig(Section):
    """The occult-LNM models (stage ``model``), fitted on ``train_cohort`` only.

    ``feature_set`` chooses whole-tumour, habitat or both feature sets; whole-tumour features
    must reach ``icc_threshold`` in the robustness stage (habitat features are not perturbed and
    pass); ``redundancy_threshold`` is the |Spearman ρ| above which one of two features is
    dropped; ``clinical`` are case-table columns for the clinical and combined models;
    ``learners`` are the other learners compared by nested cross-validation.
    """

    train_cohort: str = "train"
    feature_set: Literal["whole", "habitat", "both"] = "both"
    icc_threshold: float = Field(0.75, ge=0.0, le=1.0)
    redundancy_threshold: float = Field(0.9, gt=0.0, le=1.0)
    clinical: list[str] = Field(
        default_factory=lambda: ["age", "sex", "smoker", "subsite", "t_stage", "grade"])
    learners: list[Literal["svm", "random_forest"]] = Field(
        default_factory=lambda: ["svm", "random_forest"])
    folds: int = Field(5, ge=2, le=20)
    bootstrap: int = Field(1000, ge=0)
    n_jobs: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)


class IngestConfig(Section):
    """GDC transcriptome ingest (stage ``ingest``): STAR counts, sample sheet, clinical tables.

    ``gdc_dir`` is a GDC download folder (default: the simulated world's ``gdc/``); the files
    below are found in it by their GDC names unless given: ``counts_dir`` (``counts/`` if present,
    else ``gdc_dir`` itself; files at ``<file_id>/<file_name>``), ``sample_sheet``
    (``gdc_sample_sheet*.tsv``), ``metadata`` (``metadata.cart*.json``), ``clinical``
    (``clinical.tsv``), ``cdr`` (``TCGA-CDR-SupplementalTableS1.{tsv,xlsx}``) and ``biotab``
    (``nationwidechildrens.org_clinical_patient_hnsc.txt``). ``sample_types`` are the TCGA sample
    type codes kept (``01`` primary tumour; add ``11`` for solid normals).
    """

    gdc_dir: InputDir | None = None
    counts_dir: InputDir | None = None
    sample_sheet: InputFile | None = None
    metadata: InputFile | None = None
    clinical: InputFile | None = None
    cdr: InputFile | None = None
    biotab: InputFile | None = None
    sample_types: list[Annotated[str, Field(pattern=r"^\d{2}$")]] = Field(
        default_factory=lambda: ["01"], min_length=1)


class LinkConfig(Section):
    """Linking the rad-score to the transcriptomes (stage ``link``): patients of ``cohort`` in
    the case table are scored by ``model`` (fitted on the training cohort) and grouped
    ``high``/``low`` by the model's training threshold or by the cohort's median rad-score."""

    cohort: str = "transcriptome"
    model: Literal["radscore", "clinical", "combined", "svm", "random_forest"] = "radscore"
    grouping: Literal["threshold", "median"] = "threshold"


class DEConfig(Section):
    """Differential expression by rad-score group (stage ``de``; PyDESeq2).

    Design ``~ covariates + group``; genes need ``min_count`` reads in ``min_samples`` samples
    (default: the smaller group's size). ``size_factors`` ``auto`` uses ``ratio`` unless every
    gene has a zero, then ``poscounts``. ``lfc_threshold`` > 0 tests ``|log2FC| >`` it.
    ``volcano_log2fc`` only marks the figures; ``top_genes`` fills the heatmap. ``n_cpus``
    bounds PyDESeq2's workers (memory grows with them)."""

    group_key: str = "rad_group"
    reference: str = "low"
    covariates: list[str] = Field(default_factory=list)
    min_count: int = Field(10, ge=0)
    min_samples: int | None = Field(None, ge=1)
    size_factors: Literal["auto", "ratio", "poscounts", "iterative"] = "auto"
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    lfc_threshold: float = Field(0.0, ge=0.0)
    shrink: bool = False
    n_cpus: int | None = Field(None, ge=1)
    volcano_log2fc: float = Field(0.5, ge=0.0)
    top_genes: int = Field(40, ge=2, le=500)


class GSEAConfig(Section):
    """Gene-set enrichment (stage ``gsea``; gseapy) with each GMT file in ``gene_sets``
    (default: the simulated world's) and, when
    ``marker_sets`` is on, the cell-type markers of the single-cell ``reference`` (default: the
    simulated world's). ``permutation``: ``phenotype`` (GSEA on the VST with sample-label
    permutations; robust to co-expressed genes) or ``gene_set`` (preranked GSEA of the DE
    ``rank_by`` column). Per-sample scores of every tested set (``scores``: combined z-scores,
    or gseapy's ssGSEA) are correlated with the rad-score. Sets with FDR below ``fdr`` get a
    running-score plot."""

    gene_sets: list[InputFile] = Field(default_factory=list)
    permutation: Literal["phenotype", "gene_set"] = "phenotype"
    marker_sets: bool = True
    reference: InputFile | None = None
    cell_type_key: str = "cell_type"
    donor_key: str | None = "donor"
    n_markers: int = Field(50, ge=5, le=500)
    rank_by: Literal["stat", "log2FoldChange"] = "stat"
    permutations: int = Field(1000, ge=10)
    min_size: int = Field(15, ge=1)
    max_size: int = Field(500, ge=2)
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1)
    fdr: float = Field(0.05, gt=0.0, le=1.0)
    scores: Literal["zscore", "ssgsea"] = "zscore"


class DeconvolveConfig(Section):
    """Immune deconvolution (stage ``deconvolve``): a signature from the single-cell
    ``reference`` (default: the simulated world's; raw counts, ``cell_type_key`` and
    ``donor_key`` columns), ``method`` applied to the CPM of the bulk counts (or ``layer:
    tpm``), optional platform-bias correction. ``benchmark_mixtures`` > 0 also runs the
    donor-split pseudo-bulk benchmark of every method in ``benchmark_methods``."""

    reference: InputFile | None = None
    cell_type_key: str = "cell_type"
    donor_key: str | None = "donor"
    method: Literal["wnnls", "nnls", "cibersort"] = "wnnls"
    layer: Literal["counts", "tpm"] = "counts"
    correct_bias: bool = False
    n_markers: int = Field(100, ge=5, le=500)
    permutations: int = Field(0, ge=0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    benchmark_mixtures: int = Field(60, ge=0)
    benchmark_methods: list[Literal["wnnls", "nnls", "cibersort"]] = Field(
        default_factory=lambda: ["wnnls", "nnls"])
    umap_cells: int = Field(3000, ge=0)
    seed: int = Field(0, ge=0)


class SurvivalConfig(Section):
    """Survival (stage ``survival``; lifelines). ``endpoints`` are TCGA-CDR endpoints (``OS``,
    ``DSS``, ``PFI``, ``DFI``; OS falls back to the GDC clinical rule when the CDR is absent).
    ``groupings`` are ``obs`` columns compared by Kaplan–Meier and log-rank. The multivariable
    Cox model holds ``covariates`` (plus per-sample pathway scores named in
    ``pathway_scores`` and deconvolved cell types named in ``cell_fractions``, entered as
    standardised log fractions); each also gets a univariable model. ``cutpoint_score`` is split at the
    maximally selected log-rank cut with at least ``min_fraction`` of patients per side, its
    p-value corrected by ``cutpoint_method``."""

    endpoints: list[Literal["OS", "DSS", "PFI", "DFI"]] = Field(
        default_factory=lambda: ["OS", "PFI"], min_length=1)
    groupings: list[str] = Field(default_factory=lambda: ["rad_group", "hpv_status"])
    covariates: list[str] = Field(
        default_factory=lambda: ["rad_score", "age", "stage_group", "hpv_status"], min_length=1)
    pathway_scores: list[str] = Field(default_factory=list)
    cell_fractions: list[str] = Field(default_factory=list)
    cutpoint_score: str | None = "rad_score"
    min_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    cutpoint_method: Literal["lausen_schumacher", "permutation"] = "lausen_schumacher"
    permutations: int = Field(1000, ge=10)
    at_risk_months: list[float] = Field(default_factory=lambda: [0, 12, 24, 36, 48, 60])
    ph_alpha: float = Field(0.05, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0)


class ReportConfig(Section):
    """The single-file HTML report (stage ``report``)."""

    output: OutputPath | None = None
    title: str = "Radiogenomics of occult lymph-node metastasis in cN0 HNSCC"
    #: patients whose CT slices the patient explorer stores (bounds the file size; 0: none)
    explorer_images: int = Field(60, ge=0, le=5000)


class AnalysisConfig(Section):
    """One analysis: its name, where its run directory is, and one section per stage."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    run_dir: OutputPath | None = None
    simulate: SimulateConfig = Field(default_factory=SimulateConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    habitats: HabitatsConfig = Field(default_factory=HabitatsConfig)
    robustness: RobustnessConfig = Field(default_factory=RobustnessConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    link: LinkConfig = Field(default_factory=LinkConfig)
    de: DEConfig = Field(default_factory=DEConfig)
    gsea: GSEAConfig = Field(default_factory=GSEAConfig)
    deconvolve: DeconvolveConfig = Field(default_factory=DeconvolveConfig)
    survival: SurvivalConfig = Field(default_factory=SurvivalConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    #: replace hospital patient IDs by salted hashes in everything the run writes
    pseudonymize: bool = False
    #: the file that keeps the salt and the mapping (default: ``<name>.pseudonyms.json`` beside
    #: the config); it must stay outside the run directory
    pseudonym_file: OutputPath | None = None

    #: where the config was read from (set by :func:`load_config`, not part of the file)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        if value in {".", ".."}:
            msg = "must be a plain folder name"
            raise ValueError(msg)
        return value

    def resolved_run_dir(self) -> Path:
        """The run directory: ``run_dir`` if set, else ``runs/<name>`` in the working directory."""
        return self.run_dir if self.run_dir is not None else (Path("runs") / self.name).resolve()

    def resolved_pseudonym_file(self) -> Path:
        """Where the pseudonym file is: ``pseudonym_file``, else beside the config file."""
        if self.pseudonym_file is not None:
            return self.pseudonym_file
        base = self.source.parent if self.source is not None else Path.cwd()
        return (base / f"{self.name}.pseudonyms.json").resolve()

    def resolved_report_path(self) -> Path:
        """Where the report lands: ``report.output`` if set, else ``<run_dir>/report/index.html``."""
        if self.report.output is not None:
            return self.report.output
        return self.resolved_run_dir() / "report" / "index.html"


# --------------------------------------------------------------------------------------------
# loading, error messages and --set overrides


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Turn a pydantic error into lines naming the file, the dotted field and the bad value."""
    lines = [f"{source}: the configuration is not valid:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = [n for n in field_names(AnalysisConfig, loc) if n != "source"]
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            advice = f"did you mean '{hint[0]}'? " if hint else ""
            lines.append(
                f"  - field '{dotted}': unknown key (value {describe(err['input'])}); "
                f"{advice}allowed here: {', '.join(allowed)}"
            )
        elif err["type"] == "missing":
            lines.append(f"  - field '{dotted}': required but missing")
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"  - field '{dotted}': {message} (got {describe(err['input'])})")
    return "\n".join(lines)


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a raw config mapping.

    The value is read as YAML (``3`` is a number, ``[a, b]`` a list, ``null`` nothing) except
    for text and path fields, which keep the string as typed. Validation happens afterwards, so
    an override is checked exactly like the same value written in the file.
    """
    out = dict(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            msg = f"--set {item!r}: expected KEY=VALUE with a dotted key such as simulate.seed=7"
            raise ConfigError(msg)
        if leaf_wants_text(AnalysisConfig, parts):
            value: Any = text
        else:
            try:
                value = yaml.safe_load(text) if text.strip() else None
            except yaml.YAMLError as exc:
                msg = f"--set {item!r}: the value is not valid YAML ({exc.__class__.__name__})"
                raise ConfigError(msg) from exc
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                msg = f"{source}: --set {item!r}: '{where}' is a value, not a section"
                raise ConfigError(msg)
            else:
                child = dict(child)
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> AnalysisConfig:
    """Read an analysis config from YAML, apply ``--set`` overrides and validate it.

    Parameters
    ----------
    path
        The YAML file. Paths inside it are relative to its folder.
    overrides
        ``dotted.key=value`` strings, applied before validation.

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML (only plain YAML is accepted: ``yaml.safe_load``),
        or does not validate; the message names the file, the dotted field and the bad value.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: config file not found"
        raise ConfigError(msg)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        detail = str(exc).replace("\n", " ")
        msg = f"{path}: not a valid YAML config: {detail}"
        raise ConfigError(msg) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        msg = f"{path}: a config must be a mapping of sections, got {type(raw).__name__}"
        raise ConfigError(msg)
    raw = apply_overrides(raw, list(overrides), str(path))
    try:
        cfg = AnalysisConfig.model_validate(raw, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from None
    cfg.source = path.resolve()
    return cfg
