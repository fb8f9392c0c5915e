"""Stage ``simulate``: the embedded simulated world, simulated into the run directory or an
existing world referenced by ``simulate.path``; and its report section."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .._files import atomic_write_text, json_dumps
from ..errors import UserError
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .world import load_summary, world


def run(ctx: StageContext) -> None:
    """Simulate into ``<stage>/world`` (or check the world at ``simulate.path``) and write
    ``world.json`` recording where the world is and what it holds."""
    cfg = ctx.config.simulate
    if not cfg.enabled:
        atomic_write_text(ctx.out_dir / "world.json", json_dumps({"path": None, "summary": None}))
        return
    if cfg.path is None:
        summary = world(ctx.out_dir / "world", scale=cfg.scale, seed=cfg.seed,
                        clinical_layout=cfg.clinical_layout)
        location = "world"
    else:
        summary = load_summary(cfg.path)
        location = str(cfg.path)
    atomic_write_text(ctx.out_dir / "world.json", json_dumps({"path": location, "summary": summary}))


def world_dir(stage_dir: Path) -> Path:
    """The simulated world a finished ``simulate`` stage points at."""
    try:
        record = json.loads((stage_dir / "world.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{stage_dir}: no readable world.json; rerun the simulate stage ({exc})"
        raise UserError(msg) from exc
    if record["path"] is None:
        msg = ("no simulated world (simulate.enabled: false): name the study's files with "
               "extract.cases, ingest.gdc_dir, gsea.gene_sets and deconvolve.reference")
        raise UserError(msg)
    path = Path(record["path"])
    return path if path.is_absolute() else stage_dir / path


def report_sections(stage_dir: Path) -> list[Section]:
    """The simulated world's planted truth (shown after the analyses, to check them against)."""
    from ..report.figures import LNM_LABELS, box_by_group, scatter, stacked_bars

    record = json.loads((stage_dir / "world.json").read_text(encoding="utf-8"))
    if record["path"] is None:  # real data: no planted truth to show
        return []
    root = world_dir(stage_dir)
    summary = load_summary(root)
    imaging = pd.read_csv(root / "truth" / "imaging.tsv", sep="\t")
    imaging["LNM"] = imaging["lnm"].map(LNM_LABELS)
    cohorts = pd.DataFrame(
        [
            {"cohort": name, "patients": c["n"],
             "centres": ", ".join(f"{k} ({v})" for k, v in c["centers"].items()),
             "LNM prevalence": c["lnm_prevalence"], "Bayes-optimal AUC": c["bayes_auc"]}
            for name, c in summary["imaging_cohorts"].items()
        ]
    )
    order = ["train", "internal", "external", "transcriptome"]
    cohorts = cohorts.set_index("cohort").loc[[c for c in order if c in set(cohorts["cohort"])]]
    cohorts = cohorts.reset_index()
    glance = Section(
        id="world",
        title="Simulated world: the planted truth",
        blocks=[
            TextBlock(
                f"Simulated world ({summary['scale']} scale, seed {summary['seed']}): "
                f"{summary['n_imaging']} patients with CT in {len(summary['centers'])} centres, "
                f"{summary['n_primary_tumour_patients']} TCGA-like primary tumours with RNA-seq "
                f"({summary['n_transcriptome_with_ct']} of them with CT), "
                f"{summary['n_reference_cells']} single cells from "
                f"{summary['n_reference_donors']} donors. The truth it planted is shown beside "
                "what the analysis recovers."
            ),
            TableBlock(cohorts, caption="Patients per cohort and centre; the Bayes-optimal AUC "
                       "is the AUC of the true LNM probability, the ceiling of any model.",
                       name="cohorts"),
            FigureBlock(
                box_by_group(imaging, value="lnm_probability", group="cohort", color="LNM",
                             hover="patient_id", order=order,
                             title="True LNM probability by cohort and LNM status",
                             value_label="true probability of occult LNM"),
                data=imaging[["patient_id", "cohort", "center", "lnm", "lnm_probability"]],
                caption="Planted truth: probability of occult lymph-node metastasis.",
                name="lnm_probability",
            ),
            FigureBlock(
                box_by_group(imaging, value="tumour_mean_hu", group="center",
                             hover="patient_id", title="Mean tumour HU by centre (scanner effect)",
                             value_label="mean HU inside the tumour mask"),
                data=imaging[["patient_id", "cohort", "center", "tumour_mean_hu"]],
                caption="Centres differ in HU offset, noise and blur: harmonisation is needed.",
                name="tumour_hu_by_centre",
            ),
            FigureBlock(
                scatter(imaging, x="latent", y="frac_necrotic", color="cohort", hover="patient_id",
                        title="Necrotic habitat fraction vs latent aggressiveness",
                        x_label="latent aggressiveness", y_label="necrotic fraction"),
                data=imaging[["patient_id", "cohort", "latent", "frac_enhancing",
                              "frac_necrotic", "frac_rim"]],
                caption="Planted truth: habitat fractions follow the latent aggressiveness.",
                name="habitat_fractions",
            ),
        ],
    )
    fractions = pd.read_csv(root / "truth" / "cell_fractions.tsv", sep="\t")
    trans = pd.read_csv(root / "truth" / "transcriptome.tsv", sep="\t")
    tumours = fractions[fractions["sample_type_code"] == 1].copy()
    tumours["patient"] = tumours["aliquot"].str[:12]
    tumours = tumours.drop_duplicates("patient").merge(trans[["patient", "latent", "latent_group"]],
                                                       on="patient")
    cell_types = summary["cell_types"]
    mean_by_group = tumours.groupby("latent_group")[cell_types].mean().reset_index()
    biology = Section(
        id="planted-biology",
        title="Planted biology of the transcriptome cohort",
        blocks=[
            FigureBlock(
                stacked_bars(mean_by_group, index="latent_group", columns=cell_types,
                             title="Mean planted cell fractions, high vs low latent group"),
                data=mean_by_group, name="planted_cell_fractions",
                caption="High latent aggressiveness: fewer CD8 T cells, more Tregs and macrophages.",
            ),
            FigureBlock(
                box_by_group(tumours, value="CD8 T", group="latent_group", hover="aliquot",
                             title="Planted CD8 T-cell fraction by latent group",
                             order=["low", "high"], value_label="CD8 T fraction"),
                data=tumours[["aliquot", "latent", "latent_group", "CD8 T"]], name="planted_cd8",
            ),
        ],
    )
    return [glance, biology]
