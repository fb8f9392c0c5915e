"""Stage ``habitats``: supervoxels per patient, population habitats fitted on the training
cohort, habitat maps, fractions, spatial measures and per-habitat features added to the
radiomics AnnData; and its report section."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from .._files import atomic_write_h5ad, atomic_write_text, atomic_write_tsv, json_dumps
from .._logging import logger, progress
from ..errors import UserError
from ..pipeline import StageContext
from .extract import case_jobs, feature_table, load_checked_case, run_jobs
from .habitats import (
    HabitatModel,
    bootstrap_ari,
    check_features,
    spatial_measures,
    supervoxels,
    voxel_features,
)

HABITAT_PARAMS = Path(__file__).parent / "params" / "habitat.yaml"


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Per-patient problems are small: one thread each (no OpenMP/BLAS oversubscription when
    several workers share the cores); the previous limits are restored afterwards."""
    from threadpoolctl import threadpool_limits

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)


def _load_case(job: dict[str, Any]) -> tuple[sitk.Image, np.ndarray, np.ndarray]:
    image, mask, _ = load_checked_case(job)
    return image, sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(mask) > 0


def patient_supervoxels(job: dict[str, Any]) -> dict[str, Any]:
    """Phase 1 (per patient): voxel features and supervoxels."""
    with _one_thread():
        return _patient_supervoxels(job)


def _patient_supervoxels(job: dict[str, Any]) -> dict[str, Any]:
    image, arr, mask = _load_case(job)
    feats = voxel_features(arr, mask, window=job["window"], features=job["features"])
    spacing = np.array(image.GetSpacing())[::-1]  # numpy order z, y, x
    coords = np.argwhere(mask) * spacing
    labels, descriptors = supervoxels(feats, coords, n_supervoxels=job["n_supervoxels"],
                                      spatial_weight=job["spatial_weight"], seed=job["seed"])
    return {"patient_id": job["patient_id"], "labels": labels.astype(np.int32),
            "descriptors": descriptors}


def patient_habitats(job: dict[str, Any]) -> dict[str, Any]:
    """Phase 2 (per patient): apply the fitted model, write the map, measure the habitats."""
    with _one_thread():
        return _patient_habitats(job)


def _patient_habitats(job: dict[str, Any]) -> dict[str, Any]:
    import logging as _logging

    from radiomics import featureextractor

    _logging.getLogger("radiomics").setLevel(_logging.ERROR)
    image, arr, mask = _load_case(job)
    model = HabitatModel.load(Path(job["model"]))
    voxel_habitat = model.predict(job["descriptors"])[job["labels"]]
    hmap = np.zeros(arr.shape, dtype=np.uint8)
    hmap[mask] = voxel_habitat
    himg = sitk.GetImageFromArray(hmap)
    himg.CopyInformation(image)
    out = Path(job["maps"]) / f"{job['patient_id']}.nrrd"
    sitk.WriteImage(himg, str(out), useCompression=True)
    if job.get("thumbs"):  # the report's explorer crops (not needed when scoring new patients)
        thumb = thumbnail(arr, hmap, spacing=image.GetSpacing())
        np.savez_compressed(Path(job["thumbs"]) / f"{job['patient_id']}.npz", **thumb)
    row: dict[str, Any] = {"patient_id": job["patient_id"]}
    n = mask.sum()
    for h in range(1, model.k_ + 1):
        row[f"fraction_H{h}"] = float((hmap == h).sum() / n)
        row[f"mean_hu_H{h}"] = float(arr[hmap == h].mean()) if (hmap == h).any() else float("nan")
    row.update(spatial_measures(hmap, model.k_))
    extractor = featureextractor.RadiomicsFeatureExtractor(job["params"])
    features: dict[str, float] = {}
    for h in range(1, model.k_ + 1):
        try:
            result = extractor.execute(image, himg, label=h)
            features.update({f"H{h}_{k}": float(np.asarray(v)) for k, v in result.items()
                             if not k.startswith("diagnostics_")})
        except (ValueError, RuntimeError):  # a habitat too small for pyradiomics: no features
            continue
    row["features"] = features
    return row


#: CT window of the patient explorer's slices (soft tissue, HU)
VIEW_WINDOW = (-160.0, 240.0)


def thumbnail(arr: np.ndarray, hmap: np.ndarray, *, spacing: tuple[float, float, float],
              max_side: int = 48, max_slices: int = 12, margin: int = 4) -> dict[str, np.ndarray]:
    """A small axial crop around the tumour for the report's patient explorer.

    ``arr`` and ``hmap`` are (z, y, x) CT and habitat arrays (0 outside the tumour). The crop is
    the tumour's bounding box plus ``margin`` voxels in-plane, taken every ``step``-th voxel so
    that its larger side is at most ``max_side``, on at most ``max_slices`` tumour slices spread
    evenly. CT is windowed to :data:`VIEW_WINDOW` and stored as 0..255.
    """
    zs = np.flatnonzero((hmap > 0).any(axis=(1, 2)))
    ys = np.flatnonzero((hmap > 0).any(axis=(0, 2)))
    xs = np.flatnonzero((hmap > 0).any(axis=(0, 1)))
    y0, y1 = max(int(ys.min()) - margin, 0), min(int(ys.max()) + margin + 1, arr.shape[1])
    x0, x1 = max(int(xs.min()) - margin, 0), min(int(xs.max()) + margin + 1, arr.shape[2])
    step = max(1, int(np.ceil(max(y1 - y0, x1 - x0) / max_side)))
    chosen = zs[np.unique(np.linspace(0, len(zs) - 1, min(max_slices, len(zs))).round().astype(int))]
    lo, hi = VIEW_WINDOW
    ct = arr[chosen, y0:y1:step, x0:x1:step].astype(np.float64)
    ct = np.round((np.clip(ct, lo, hi) - lo) / (hi - lo) * 255.0).astype(np.uint8)
    return {"ct": ct, "habitats": hmap[chosen, y0:y1:step, x0:x1:step].astype(np.uint8),
            "slices": chosen.astype(np.int32),
            "pixel_mm": np.array([spacing[0] * step, spacing[1] * step], dtype=np.float64)}


def add_supervoxel_settings(jobs: list[dict[str, Any]], *, window: int, n_supervoxels: int,
                            spatial_weight: float, seed: int, features: tuple[str, ...]) -> None:
    """Give each case job what :func:`patient_supervoxels` needs (in place)."""
    for job in jobs:
        job.update(window=window, n_supervoxels=n_supervoxels, spatial_weight=spatial_weight,
                   seed=seed, features=tuple(features))


def add_habitat_model(jobs: list[dict[str, Any]], phase1: list[dict[str, Any]], *,
                      model: Path, maps: Path | str, params: Path | str,
                      thumbs: Path | str | None = None) -> None:
    """Give each job its supervoxels and the fitted model for :func:`patient_habitats`; with
    ``thumbs`` each job also writes the small crop the report's patient explorer shows."""
    for job, r in zip(jobs, phase1, strict=True):
        job.update(model=str(model), maps=str(maps), params=str(params),
                   thumbs=str(thumbs) if thumbs is not None else None,
                   labels=r["labels"], descriptors=r["descriptors"])


def run(ctx: StageContext) -> None:
    """Fit habitats on the training cohort, apply to all, extend ``radiomics.h5ad``."""
    import anndata as ad

    from .stage import cases_table, qc_settings

    cfg, extract_cfg = ctx.config.habitats, ctx.config.extract
    adata = ad.read_h5ad(ctx.upstream["extract"] / "radiomics.h5ad")
    cases = cases_table(ctx).set_index("patient_id", drop=False).loc[list(adata.obs_names)]
    if "cohort" not in cases.columns or not (cases["cohort"] == cfg.train_cohort).any():
        msg = (f"habitats are fitted on the '{cfg.train_cohort}' cohort, but the case table has no "
               "such cohort (column 'cohort'); set habitats.train_cohort")
        raise UserError(msg)
    jobs = case_jobs(cases, mask_label=extract_cfg.mask_label, qc=qc_settings(ctx.config),
                     allow_resample=extract_cfg.allow_slice_resample)
    features = check_features(cfg.features)
    add_supervoxel_settings(jobs, window=cfg.window, n_supervoxels=cfg.supervoxels,
                            spatial_weight=cfg.spatial_weight, seed=cfg.seed, features=features)
    n_jobs = cfg.n_jobs or extract_cfg.n_jobs or 2
    executor = extract_cfg.executor
    phase1 = list(progress(run_jobs(patient_supervoxels, jobs, n_jobs, executor,
                                    extract_cfg.scheduler_address),
                           description="supervoxels", total=len(jobs)))
    train = [r["descriptors"] for r, c in zip(phase1, cases["cohort"], strict=True)
             if c == cfg.train_cohort]
    logger.info("fitting habitats on %d training patients (%d supervoxels)", len(train),
                sum(len(d) for d in train))
    model = HabitatModel.fit(np.vstack(train), k=cfg.k, k_range=tuple(cfg.k_range),  # type: ignore[arg-type]
                             criterion=cfg.criterion, seed=cfg.seed, features=features)
    model.save(ctx.out_dir / "model.json")
    ari = bootstrap_ari(train, model, n_boot=cfg.bootstrap, seed=cfg.seed) if cfg.bootstrap else np.array([])
    maps = ctx.out_dir / "maps"
    maps.mkdir()
    thumbs = ctx.out_dir / "thumbs"
    thumbs.mkdir()
    params = str(cfg.params or HABITAT_PARAMS)
    add_habitat_model(jobs, phase1, model=ctx.out_dir / "model.json", maps=maps, params=params,
                      thumbs=thumbs)
    rows = list(progress(run_jobs(patient_habitats, jobs, n_jobs, executor,
                                  extract_cfg.scheduler_address),
                         description="habitats", total=len(jobs)))
    _write(ctx.out_dir, adata, rows, model, ari, cases)


def habitat_anndata(adata, rows: list[dict[str, Any]], model: HabitatModel, ari: np.ndarray | None = None):  # noqa: ANN001, ANN201
    """``adata`` (whole-tumour features) extended with the habitat rows: fractions, spatial
    measures and per-habitat features as their own ``.var`` rows, fractions also in
    ``.obsm["habitat_fractions"]``. Returns the new AnnData and the per-patient table."""
    import anndata as ad

    ari = np.array([]) if ari is None else ari
    k = model.k_
    table = pd.DataFrame([{key: v for key, v in r.items() if key != "features"} for r in rows])
    table = table.set_index("patient_id").loc[adata.obs_names].rename_axis("patient_id")
    fractions = table[[f"fraction_H{h}" for h in range(1, k + 1)]]
    fractions.columns = [f"H{h}" for h in range(1, k + 1)]
    names = sorted({n for r in rows for n in r["features"]},
                   key=lambda n: (int(n.split("_", 1)[0][1:]), n))
    by_patient = {r["patient_id"]: r["features"] for r in rows}
    feats = pd.DataFrame([by_patient[p] for p in table.index], index=table.index, columns=names)
    spatial = table[[c for c in table.columns if c.startswith(("components_", "contact_", "mixing"))]]
    fraction_vars = fractions.add_prefix("habitat_fraction_")
    blocks = [fraction_vars, spatial, feats]
    var = pd.concat([
        pd.DataFrame({"image_type": "habitat", "feature_class": "habitat_fraction",
                      "feature": fraction_vars.columns, "habitat": list(fractions.columns)},
                     index=fraction_vars.columns),
        pd.DataFrame({"image_type": "habitat", "feature_class": "habitat_spatial",
                      "feature": spatial.columns, "habitat": "all"}, index=spatial.columns),
        feature_table([n.split("_", 1)[1] for n in names]).set_index(pd.Index(names))
        .assign(habitat=[n.split("_", 1)[0] for n in names]),
    ])
    extra = pd.concat(blocks, axis=1).to_numpy(dtype=np.float64)
    combined = ad.AnnData(
        X=np.hstack([adata.X, extra]), obs=adata.obs.copy(),
        var=pd.concat([adata.var, var.rename_axis(adata.var.index.name)]),
        uns=dict(adata.uns),
    )
    combined.obsm["habitat_fractions"] = fractions.set_axis(combined.obs_names)
    combined.uns["habitats"] = {"params": {**model.to_dict(),
                                           "ari_mean": float(ari.mean()) if ari.size else None}}
    return combined, table


def _write(out: Path, adata, rows: list[dict[str, Any]], model: HabitatModel,  # noqa: ANN001
           ari: np.ndarray, cases: pd.DataFrame) -> None:
    k = model.k_
    combined, table = habitat_anndata(adata, rows, model, ari)
    atomic_write_h5ad(out / "radiomics.h5ad", combined)
    per_patient = table.assign(cohort=cases["cohort"].to_numpy(),
                               center=cases["center"].to_numpy() if "center" in cases else "",
                               lnm=cases["lnm"].to_numpy() if "lnm" in cases else np.nan)
    atomic_write_tsv(out / "habitats.tsv", per_patient.reset_index())
    summary = {"k": k, "criterion": model.criterion,
               "scores": {str(kk): v for kk, v in sorted(model.scores_.items())},
               "bootstrap_ari": [round(float(a), 6) for a in ari],
               "ari_mean": round(float(ari.mean()), 6) if ari.size else None,
               "ari_ci95": ([round(float(np.percentile(ari, q)), 6) for q in (2.5, 97.5)]
                            if ari.size else None)}
    atomic_write_text(out / "stability.json", json_dumps(summary))
    logging.getLogger("radiogenomics").info(
        "habitats: K = %d (%s), bootstrap ARI %s", k, model.criterion,
        f"{ari.mean():.3f}" if ari.size else "not computed")


def report_sections(stage_dir: Path) -> list:
    """Habitats: K selection, stability, fractions by LNM status (slices: the explorer)."""
    import json

    from ..report.figures import LNM_LABELS, box_by_group, scatter
    from ..report.glance import cohort_order
    from ..report.model import FigureBlock, Section, TableBlock, TextBlock

    stability = json.loads((stage_dir / "stability.json").read_text(encoding="utf-8"))
    model = json.loads((stage_dir / "model.json").read_text(encoding="utf-8"))
    table = pd.read_csv(stage_dir / "habitats.tsv", sep="\t", dtype={"patient_id": str})
    k = int(stability["k"])
    scores = pd.DataFrame({"K": [int(x) for x in stability["scores"]],
                           "score": list(stability["scores"].values())})
    hu = ", ".join(f"H{h} {v:.0f} HU" for h, v in enumerate(model["centroids_hu"], start=1))
    ari = stability["ari_mean"]
    blocks: list = [TextBlock(
        f"K = {k} habitats chosen on the training cohort by {stability['criterion']} "
        f"(centroid mean HU: {hu}); the scaler and centroids are applied unchanged to every other "
        f"cohort. Bootstrap stability (adjusted Rand index over "
        f"{len(stability['bootstrap_ari'])} resamples of training patients): "
        + (f"{ari:.3f} (95% interval {stability['ari_ci95'][0]:.3f}–{stability['ari_ci95'][1]:.3f})."
           if ari is not None else "not computed."))]
    if len(scores) > 1:
        blocks.append(FigureBlock(
            scatter(scores, x="K", y="score", title="Choice of K on training supervoxels",
                    y_label=stability["criterion"]).update_xaxes(dtick=1),
            data=scores, name="habitat_k_selection",
            caption=f"Higher is better; the best K is used (K = {k})."))
    long = table.melt(id_vars=["patient_id", "cohort", "lnm"],
                      value_vars=[f"fraction_H{h}" for h in range(1, k + 1)],
                      var_name="habitat", value_name="fraction")
    long["habitat"] = long["habitat"].str.removeprefix("fraction_")
    lnm = long["lnm"].notna().any()
    if lnm:  # patients whose LNM status is not recorded (the transcriptome cohort) are left out
        long = long[long["lnm"].notna()].assign(LNM=lambda d: d["lnm"].map(LNM_LABELS))
    shown = ", ".join(cohort_order(long["cohort"]))
    blocks.append(FigureBlock(
        box_by_group(long, value="fraction", group="habitat", color="LNM" if lnm else None,
                     hover="patient_id",
                     title="Habitat fractions by LNM status" if lnm else "Habitat fractions",
                     value_label="fraction of tumour volume"),
        data=long, name="habitat_fractions",
        caption=f"Each habitat's share of the tumour volume ({shown} cohorts"
                + ("; patients with a recorded LNM status)." if lnm else ").")))
    blocks.append(TableBlock(
        table.groupby("cohort")[[f"fraction_H{h}" for h in range(1, k + 1)] + ["mixing"]].mean()
        .round(4).reset_index(), name="habitat_fractions_by_cohort",
        caption="Mean habitat fractions and habitat mixing per cohort."))
    blocks.append(TextBlock(
        "Axial CT slices with the tumour contour and the habitat overlay are in the Patient "
        "explorer (highest- and lowest-risk and misclassified patients of each cohort, then a "
        "random sample)."))
    return [Section(id="habitats", title="Habitat radiomics", blocks=blocks)]
