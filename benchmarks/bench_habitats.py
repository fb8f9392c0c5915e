"""Habitat stage runtime: supervoxels, population fit, habitat maps and per-habitat features.

Usage: ``python benchmarks/bench_habitats.py --world <simulated world> [--n-jobs 2]``

Runs both per-patient phases over every train/internal/external patient of the world (the
demo world has 850) on a process pool, fits the population model on the training patients,
and prints wall time per phase and in total, seconds per patient, and the bootstrap ARI.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from radiogenomics.imaging.extract import case_jobs, run_jobs
from radiogenomics.config import HabitatsConfig
from radiogenomics.imaging.habitat_stage import (
    HABITAT_PARAMS,
    add_supervoxel_settings,
    patient_habitats,
    patient_supervoxels,
)
from radiogenomics.imaging.habitats import HabitatModel, bootstrap_ari
from radiogenomics.imaging.qc import QCSettings
from radiogenomics.imaging.stage import read_cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    cases = read_cases(args.world / "imaging" / "cases.tsv")
    cases = cases[cases["cohort"].isin(["train", "internal", "external"])]
    jobs = case_jobs(cases, mask_label=1, qc=QCSettings(min_roi_voxels=1), allow_resample=False)
    stage = HabitatsConfig()  # the stage's defaults
    add_supervoxel_settings(jobs, window=stage.window, n_supervoxels=stage.supervoxels,
                            spatial_weight=stage.spatial_weight, seed=stage.seed,
                            features=tuple(stage.features))
    start = time.perf_counter()
    phase1 = list(run_jobs(patient_supervoxels, jobs, args.n_jobs, "process"))
    t1 = time.perf_counter() - start
    start = time.perf_counter()
    train = [r["descriptors"] for r, c in zip(phase1, cases["cohort"], strict=True) if c == "train"]
    model = HabitatModel.fit(np.vstack(train), features=stage.features)
    ari = bootstrap_ari(train, model, n_boot=20)
    t_fit = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "model.json")
        for job, r in zip(jobs, phase1, strict=True):
            job.update(model=str(Path(tmp) / "model.json"), maps=tmp, thumbs=tmp,
                       params=str(HABITAT_PARAMS), labels=r["labels"], descriptors=r["descriptors"])
        start = time.perf_counter()
        list(run_jobs(patient_habitats, jobs, args.n_jobs, "process"))
        t2 = time.perf_counter() - start
    n = len(jobs)
    total = t1 + t_fit + t2
    print(f"{n} patients ({len(train)} training), {args.n_jobs} workers, K = {model.k_}")
    print(f"supervoxels      : {t1:7.1f} s ({t1 / n * 1000:.0f} ms/patient)")
    print(f"fit + bootstrap  : {t_fit:7.1f} s (20 refits; ARI {ari.mean():.3f}, "
          f"95% interval {np.percentile(ari, 2.5):.3f}-{np.percentile(ari, 97.5):.3f})")
    print(f"maps + features  : {t2:7.1f} s ({t2 / n * 1000:.0f} ms/patient)")
    print(f"total            : {total:7.1f} s ({total / n:.2f} s/patient)")


if __name__ == "__main__":
    main()
