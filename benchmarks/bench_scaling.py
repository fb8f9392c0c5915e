"""Extraction time against the number of cases: is it linear?

    python benchmarks/bench_scaling.py WORLD [--sizes 50 100 200 400] [--n-jobs 2] [--dask N]

Extracts the first N NRRD cases of a simulated world (``radiogenomics simulate --scale large``
gives 2,340) with the suite's CT parameters and a process pool, for each N, and fits
time = a + b·N. Prints seconds per N, the slope (seconds per case), the intercept and R²
(linear scaling: R² close to 1 and a small intercept). With ``--dask N`` the first N cases are
extracted again on a Dask ``LocalCluster`` of ``--n-jobs`` workers (loopback) and compared with
the process pool's features, value for value.
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
    parser.add_argument("--dask", type=int, metavar="N",
                        help="also extract the first N cases on a Dask LocalCluster and compare")
    args = parser.parse_args()
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    cases = read_cases(args.world / "imaging" / "cases.tsv")
    cases = cases[cases["image_format"] == "nrrd"]
    sizes = [n for n in args.sizes if n <= len(cases)]
    seconds, results = [], {}
    for n in sizes:
        start = time.perf_counter()
        results[n] = extract_features(cases.head(n), args.params, n_jobs=args.n_jobs,
                                      executor="process")
        seconds.append(time.perf_counter() - start)
        print(f"{n:6d} cases  {seconds[-1]:8.1f} s  ({seconds[-1] / n:.3f} s/case)", flush=True)
    slope, intercept = np.polyfit(sizes, seconds, 1)
    fitted = intercept + slope * np.asarray(sizes)
    r2 = 1 - np.sum((np.asarray(seconds) - fitted) ** 2) / np.sum((seconds - np.mean(seconds)) ** 2)
    print(f"time = {intercept:.1f} s + {slope:.3f} s × N   (R² = {r2:.4f}, {args.n_jobs} workers)")
    if args.dask:
        n = min(args.dask, len(cases))
        local = results.get(n)
        if local is None:
            local = extract_features(cases.head(n), args.params, n_jobs=args.n_jobs,
                                     executor="process")
        start = time.perf_counter()
        on_dask = extract_features(cases.head(n), args.params, n_jobs=args.n_jobs, executor="dask")
        took = time.perf_counter() - start
        same = (list(on_dask.obs_names) == list(local.obs_names)
                and list(on_dask.var_names) == list(local.var_names)
                and np.array_equal(on_dask.X, local.X, equal_nan=True))
        print(f"dask LocalCluster ({args.n_jobs} workers): {n} cases {took:.1f} s "
              f"({took / n:.3f} s/case); features identical to the process pool: {same}")


if __name__ == "__main__":
    main()
