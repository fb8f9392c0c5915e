"""Deconvolution: accuracy against the planted fractions of a finished run's bulk tumours, speed
of weighted NNLS against the CIBERSORT-style baseline, and the donor-split pseudo-bulk benchmark.

Usage: ``python benchmarks/bench_deconvolution.py RUN_DIR [--cibersort-samples 40]
[--mixtures 40]``

- ``wnnls`` and ``nnls`` on every bulk tumour (three timed repeats), ``cibersort`` on the first
  ``--cibersort-samples`` of them; accuracy against ``truth/cell_fractions.tsv`` (mean per-type
  Pearson r, RMSE) on the samples each method ran on.
- Speed ratio: the CIBERSORT-style run on all tumours with a 100-permutation null (measured per
  sample and per null draw, scaled to the tumour count) over ``wnnls`` on all tumours.
- The pseudo-bulk benchmark (standard, missing type, platform bias sd 0.4) of all three methods
  on ``--mixtures`` mixtures from held-out donors.
Targets (issue #9): wnnls r ≥ 0.9 and RMSE ≤ 0.05 (≥ 0.8 under platform bias), at least as
accurate as cibersort in every scenario; wnnls on 500 samples ≤ 2 s; ratio ≥ 100×.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from radiogenomics.deconvolution import build_signature, bulk_cpm, cibersort, deconvolve
from radiogenomics.deconvolution.benchmark import pseudobulk_benchmark
from radiogenomics.simulate.stage import world_dir
from radiogenomics.deconvolution.methods import align


def accuracy(est: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float]:
    t = truth.loc[est.index, est.columns]
    r = np.mean([np.corrcoef(est[c], t[c])[0, 1] for c in est.columns])
    rmse = float(np.sqrt(((est - t) ** 2).mean()).mean())
    return float(r), rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--cibersort-samples", type=int, default=40)
    parser.add_argument("--mixtures", type=int, default=40)
    args = parser.parse_args()
    world = world_dir(args.run_dir / "simulate")
    reference = ad.read_h5ad(world / "reference" / "reference.h5ad")
    signature = build_signature(reference)
    bulk = ad.read_h5ad(args.run_dir / "ingest" / "bulk.h5ad")
    mixture = bulk_cpm(bulk)
    names = bulk.var["gene_name"]
    truth = pd.read_csv(world / "truth" / "cell_fractions.tsv", sep="\t", index_col="aliquot")
    n = len(mixture)
    print(f"{n} bulk tumours; signature {signature.matrix.shape[0]} genes × "
          f"{signature.matrix.shape[1]} types")
    seconds = {}
    for method in ("wnnls", "nnls"):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            est, _ = deconvolve(mixture, signature, method, gene_names=names)
            times.append(time.perf_counter() - start)
        seconds[method] = min(times)
        r, rmse = accuracy(est, truth)
        print(f"{method:>9}: {seconds[method]:.2f} s for {n} samples; mean r {r:.3f}, RMSE {rmse:.4f}")
    k = min(args.cibersort_samples, n)
    start = time.perf_counter()
    est, _ = deconvolve(mixture.iloc[:k], signature, "cibersort", gene_names=names)
    per_sample = (time.perf_counter() - start) / k
    r, rmse = accuracy(est, truth)
    wn, _ = deconvolve(mixture.iloc[:k], signature, "wnnls", gene_names=names)
    r_w, rmse_w = accuracy(wn, truth)
    print(f"cibersort: {per_sample:.2f} s per sample on {k} samples; mean r {r:.3f}, RMSE "
          f"{rmse:.4f} (wnnls on the same samples: r {r_w:.3f}, RMSE {rmse_w:.4f})")
    s, m, _ = align(mixture.iloc[:5], signature, names)
    start = time.perf_counter()
    cibersort(s, m[:1], permutations=5)
    per_draw = max((time.perf_counter() - start - per_sample) / 5, 0.0)
    projected = per_sample * n + per_draw * 100
    print(f"cibersort projected on {n} samples with a 100-permutation null: {projected:.0f} s; "
          f"speed ratio over wnnls: {projected / seconds['wnnls']:.0f}× (target ≥ 100×)")
    print(f"\npseudo-bulk benchmark, {args.mixtures} mixtures per scenario:")
    _, summary = pseudobulk_benchmark(reference, methods=["wnnls", "nnls", "cibersort"],
                                      n_mixtures=args.mixtures, n_boot=100)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
