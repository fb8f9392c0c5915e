"""Score new patients with a saved model: extraction and habitats with the stored parameters,
then every model's probability and the group at its training threshold."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._logging import logger, progress
from .persist import load_study

__all__ = ["predict_cases"]


def _habitat_features(adata, cases: pd.DataFrame, folder: Path, record: dict[str, Any],  # noqa: ANN001
                      n_jobs: int, executor: str):  # noqa: ANN202
    from ..imaging.extract import case_jobs, run_jobs
    from ..imaging.habitat_stage import (
        add_habitat_model,
        add_supervoxel_settings,
        habitat_anndata,
        patient_habitats,
        patient_supervoxels,
    )
    from ..imaging.habitats import HabitatModel
    from ..imaging.qc import QCSettings

    settings, ext = record["habitats"], record["extract"]
    ordered = cases.set_index("patient_id", drop=False).loc[list(adata.obs_names)]
    jobs = case_jobs(ordered, mask_label=ext["mask_label"], qc=QCSettings(**ext["qc"]),
                     allow_resample=ext["allow_slice_resample"])
    model = HabitatModel.load(folder / "habitat_model.json")  # names its voxel features
    add_supervoxel_settings(jobs, window=settings["window"], n_supervoxels=settings["supervoxels"],
                            spatial_weight=settings["spatial_weight"], seed=settings["seed"],
                            features=model.features)
    phase1 = list(progress(run_jobs(patient_supervoxels, jobs, n_jobs, executor),  # type: ignore[arg-type]
                           description="supervoxels", total=len(jobs)))
    with tempfile.TemporaryDirectory() as maps:
        add_habitat_model(jobs, phase1, model=folder / "habitat_model.json", maps=maps,
                          params=folder / "habitat_params.yaml")
        rows = list(progress(run_jobs(patient_habitats, jobs, n_jobs, executor),  # type: ignore[arg-type]
                             description="habitats", total=len(jobs)))
    combined, _ = habitat_anndata(adata, rows, model)
    return combined


def predict_cases(model_dir: str | Path, cases: pd.DataFrame, *, n_jobs: int = 2,
                  executor: str = "process") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Probabilities for the cases of a case table (``patient_id, image, mask`` and the
    clinical columns the model uses).

    Returns
    -------
    predictions
        One row per extracted case: ``rad_score``, ``<model>_prob`` and ``<model>_group``
        (``high`` at or above the model's training threshold, else ``low``).
    failures
        Cases that could not be extracted, with the reason.
    """
    from ..imaging.extract import extract_features
    from ..imaging.qc import QCSettings
    from .study import design_matrix

    folder = Path(model_dir)
    study, record = load_study(folder)
    ext = record["extract"]
    adata = extract_features(cases, folder / "extract_params.yaml", n_jobs=n_jobs,
                             executor=executor, qc=QCSettings(**ext["qc"]),  # type: ignore[arg-type]
                             mask_label=ext["mask_label"],
                             allow_resample=ext["allow_slice_resample"])
    failures = adata.uns["failures"]
    if any(f not in adata.var_names for f in study.features) and (folder / "habitat_model.json").exists():
        adata = _habitat_features(adata, cases, folder, record, n_jobs, executor)
    frame = pd.DataFrame(np.asarray(adata.X, float), index=adata.obs_names, columns=adata.var_names)
    missing = [f for f in study.features if f not in frame.columns]
    if missing:
        logger.warning("%d model feature(s) could not be computed (imputed with the training "
                       "median): %s", len(missing), missing[:5])
    X, _, _ = design_matrix(frame.reindex(columns=study.features),  # noqa: N806
                            adata.obs, study.numeric + study.categorical)
    out = study.predict(X)
    for name, threshold in study.thresholds.items():
        out[f"{name}_group"] = np.where(out[f"{name}_prob"] >= threshold, "high", "low")
    out.index.name = "patient_id"
    return out, failures
