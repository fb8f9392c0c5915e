"""GSEA: the suite's enrichment against gseapy called directly on the same data.

    python benchmarks/bench_gsea.py RUN_DIR GMT [GMT ...] [--permutations 1000] [--repeats 1]

Reads a finished run's ``de/vst.h5ad`` and ``de/results.tsv`` and the given GMT collections (the
demo world's ``gene_sets/gene_sets.gmt``, the run's ``gsea/cell_type_markers.gmt``), then times,
per collection, ``radiogenomics.expression.enrichment`` with
sample-label permutation (the stage's default) and ``gseapy.gsea`` on the matrix and labels the
suite hands it (same seed, one thread each). Prints both times, their ratio (target from the DE
and enrichment issue: the suite's overhead over the library small) and whether the NES and FDR
columns are equal.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from radiogenomics.expression.enrichment import _phenotype_inputs, enrichment
from radiogenomics.expression.gsea_stage import read_de_outputs
from radiogenomics.io import read_gmt


def main() -> None:
    import gseapy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("gmt", type=Path, nargs="+")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    vst = read_de_outputs(args.run_dir / "de")
    data, labels, _, _ = _phenotype_inputs(vst, "vst")
    print(f"{data.shape[1]} samples × {data.shape[0]} genes; {args.permutations} label permutations")
    total_suite = total_direct = 0.0
    for path in args.gmt:
        sets = read_gmt(path)
        suite, direct = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            enrichment(vst, {"c": sets}, permutations=args.permutations, seed=0, threads=1,
                       min_size=15, max_size=500)
            suite.append(time.perf_counter() - start)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = gseapy.gsea(data=data, gene_sets=sets, cls=labels,
                                  permutation_type="phenotype", method="t_test",
                                  permutation_num=args.permutations, seed=0, threads=1,
                                  min_size=15, max_size=500, outdir=None, no_plot=True).res2d
            direct.append(time.perf_counter() - start)
        ours = vst.uns["gsea"]["results"].set_index("Term")
        theirs = res.set_index("Term").loc[ours.index]
        same = all(np.allclose(ours[c].astype(float), theirs[c].astype(float), rtol=1e-10)
                   for c in ("NES", "FDR q-val"))
        s, d = min(suite), min(direct)
        total_suite, total_direct = total_suite + s, total_direct + d
        print(f"  {path.name:<32} {len(ours):4d} sets  suite {s:6.1f} s  gseapy {d:6.1f} s  "
              f"ratio {s / d:.2f}  NES/FDR equal: {same}")
    print(f"all collections: suite {total_suite:.1f} s, gseapy {total_direct:.1f} s, "
          f"ratio {total_suite / total_direct:.2f} (suite / direct)")


if __name__ == "__main__":
    main()
