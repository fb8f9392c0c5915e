"""Extraction time against the number of cases: is it linear?

    python benchmarks/bench_scaling.py WORLD [--sizes 50 100 200 400] [--n-jobs 2]

Extracts the first N NRRD cases of a simulated world (``radiogenomics simulate --scale large``
gives 2,340) with the suite's CT parameters and a process pool, for each N, and fits
time = a + b·N. Prints seconds per N, the slope (seconds per case), the intercept and R²
(linear scaling: R² close to 1 and a small intercept).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from radiogenomics.imaging import DEFAULT_PARAMS, extract_features
from radiogenomics.imaging.stage import read_cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    args = parser.parse_args()
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    cases = read_cases(args.world / "imaging" / "cases.tsv")
    cases = cases[cases["image_format"] == "nrrd"]
    sizes = [n for n in args.sizes if n <= len(cases)]
    seconds = []
    for n in sizes:
        start = time.perf_counter()
        extract_features(cases.head(n), args.params, n_jobs=args.n_jobs, executor="process")
        seconds.append(time.perf_counter() - start)
        print(f"{n:6d} cases  {seconds[-1]:8.1f} s  ({seconds[-1] / n:.3f} s/case)", flush=True)
    slope, intercept = np.polyfit(sizes, seconds, 1)
    fitted = intercept + slope * np.asarray(sizes)
    r2 = 1 - np.sum((np.asarray(seconds) - fitted) ** 2) / np.sum((seconds - np.mean(seconds)) ** 2)
    print(f"time = {intercept:.1f} s + {slope:.3f} s × N   (R² = {r2:.4f}, {args.n_jobs} workers)")


if __name__ == "__main__":
    main()
