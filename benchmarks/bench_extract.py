"""Radiomics extraction: the suite against bare pyradiomics on the same cases.

Usage: ``python benchmarks/bench_extract.py [--scale demo|tiny] [--cases 60] [--params PATH]``

Simulates a world (or reuses ``--world``), takes the first N NRRD cases and prints seconds per
case for: bare pyradiomics (``RadiomicsFeatureExtractor.execute`` on the files, serial), the
suite serial, the suite with 2 worker processes, and a fully cached rerun; then the ratios.
Targets: suite overhead over bare pyradiomics <= 10%; 2 workers >= 1.8x serial; cached rerun
<= 50 ms per case.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from radiogenomics.imaging import DEFAULT_PARAMS, extract_features
from radiogenomics.imaging.stage import read_cases
from radiogenomics.simulate import world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "demo"], default="tiny")
    parser.add_argument("--world", type=Path, help="an existing simulated world")
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    args = parser.parse_args()
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.world
        if root is None:
            root = Path(tmp) / "world"
            world(root, scale=args.scale, seed=1)
        cases = read_cases(root / "imaging" / "cases.tsv")
        cases = cases[cases["image_format"] == "nrrd"].head(args.cases)
        n = len(cases)

        extractor = featureextractor.RadiomicsFeatureExtractor(str(args.params))
        extractor.execute(cases["image"].iloc[0], cases["mask"].iloc[0])  # warm-up
        start = time.perf_counter()
        for image, mask in zip(cases["image"], cases["mask"], strict=True):
            extractor.execute(image, mask)
        bare = (time.perf_counter() - start) / n

        timings = {}
        for label, kwargs in (("serial", {"executor": "serial", "n_jobs": 1}),
                              ("2 workers", {"executor": "process", "n_jobs": 2})):
            start = time.perf_counter()
            adata = extract_features(cases, args.params, **kwargs)
            timings[label] = (time.perf_counter() - start) / n
        cache = Path(tmp) / "cache"
        extract_features(cases, args.params, executor="serial", cache_dir=cache)
        start = time.perf_counter()
        extract_features(cases, args.params, executor="serial", cache_dir=cache)
        cached = (time.perf_counter() - start) / n

    print(f"{n} cases, {adata.n_vars} features, params {args.params.name}")
    print(f"bare pyradiomics, serial : {bare:.3f} s/case")
    print(f"suite, serial            : {timings['serial']:.3f} s/case "
          f"(overhead {100 * (timings['serial'] / bare - 1):+.1f}%, target <= 10%)")
    print(f"suite, 2 workers         : {timings['2 workers']:.3f} s/case "
          f"(speed-up {timings['serial'] / timings['2 workers']:.2f}x, target >= 1.8x)")
    print(f"suite, cached rerun      : {1000 * cached:.1f} ms/case (target <= 50 ms)")


if __name__ == "__main__":
    main()
