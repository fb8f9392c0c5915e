"""Survival on a finished run of a simulated world, against the planted hazard ratios, and the
calibration of the cut-point p-value under the null.

Usage: ``python benchmarks/survival_truth.py RUN_DIR [--null 200]``

1. The planted model (``truth/survival.json``): log-hazard ratios per unit of ``stage_late``,
   ``hpv_positive``, ``latent``, ``cd8_z`` and ``age_per_10y``. The ingested OS/PFI/DSS (from the
   TCGA-CDR file, through the suite's readers) are fitted with :func:`radiogenomics.survival.cox`
   on those covariates (stage and HPV as ingested; latent and CD8 from the truth table, since no
   measurement of them exists yet) and each planted value is checked against the 95% CI.
2. ``--null N``: N simulated null data sets (exponential times, uniform censoring, a score
   independent of outcome, n = 150): the share of corrected cut-point p-values below 0.05
   (target ≤ 0.08) against the naive minimum p of the best cut.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from radiogenomics.simulate.stage import world_dir
from radiogenomics.survival import cox, null_rejection_rates


def planted(run_dir: Path) -> None:
    world = world_dir(run_dir / "simulate")
    truth = json.loads((world / "truth" / "survival.json").read_text(encoding="utf-8"))
    table = pd.read_csv(world / "truth" / "transcriptome.tsv", sep="\t").set_index("patient")
    bulk = ad.read_h5ad(run_dir / "link" / "bulk.h5ad", backed="r")
    obs = bulk.obs.copy()
    bulk.file.close()
    obs = obs.set_index("patient")
    frame = pd.DataFrame({
        "stage_late": (obs["stage_group"].astype(str) == "late").astype(float),
        "hpv_positive": obs["hpv_status"].astype(str).map({"positive": 1.0, "negative": 0.0}),
        "age_per_10y": (obs["age"].astype(float) - 60) / 10,
        "latent": table.loc[obs.index, "latent"].to_numpy(),
        "cd8_z": table.loc[obs.index, "cd8_z"].to_numpy(),
    }, index=obs.index)
    for ep in truth["same_coefficients_for"]:
        frame[ep], frame[f"{ep}_time"] = obs[ep].astype(float), obs[f"{ep}_time"].astype(float)
        res = cox(frame, f"{ep}_time", ep, list(truth["log_hazard_ratios"]))
        print(f"\n{ep}: n = {res.attrs['n']}, events = {res.attrs['events']}")
        inside = 0
        for cov, beta in truth["log_hazard_ratios"].items():
            lo, hi = np.log(res.loc[cov, "hr_low"]), np.log(res.loc[cov, "hr_high"])
            ok = lo <= beta <= hi
            inside += ok
            print(f"  {cov:>13}: planted {beta:+.2f}, estimate {res.loc[cov, 'coef']:+.3f} "
                  f"(95% CI {lo:+.3f} to {hi:+.3f}) {'inside' if ok else 'OUTSIDE'}")
        print(f"  {inside} of {len(truth['log_hazard_ratios'])} planted values inside their CI")


def null(n_sets: int) -> None:
    rates = null_rejection_rates(n_sets, n=150, alpha=0.05)
    print(f"\n{n_sets} null data sets: corrected p < 0.05 in {rates['corrected']:.3f}"
          f" (target ≤ 0.08); naive minimum p < 0.05 in {rates['naive']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--null", type=int, default=200)
    args = parser.parse_args()
    planted(args.run_dir)
    if args.null:
        null(args.null)


if __name__ == "__main__":
    main()
