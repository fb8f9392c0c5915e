"""Differential expression: the suite's ``differential_expression`` against PyDESeq2 called
directly on the same counts.

Usage: ``python benchmarks/bench_de.py [--samples 500] [--genes 20000] [--cpus 2] [--repeats 1]``

Draws a negative-binomial count matrix (samples × genes, 3% of genes DE between two equal
groups), then times, each in a fresh process so that peak memory is its own:
- direct: ``DeseqDataSet(...).deseq2()`` and ``DeseqStats(...).summary()``;
- suite: ``differential_expression`` (the same fit, plus its checks, the low-count filter, the
  variance-stabilised matrix and the Spearman association with a score).
Prints wall time, peak resident memory and the ratio suite / direct. Target: ≤ 1.1×.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np


def make_counts(samples: int, genes: int, seed: int = 0):  # noqa: ANN201
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    group = np.array(["low", "high"] * (samples // 2) + ["low"] * (samples % 2))
    mean = np.exp(rng.normal(4.0, 1.8, size=genes))
    beta = np.zeros(genes)
    de = rng.choice(genes, size=int(0.03 * genes), replace=False)
    beta[de] = rng.choice([-1.0, 1.0], size=de.size) * rng.uniform(0.3, 1.5, size=de.size)
    size = np.exp(rng.normal(0, 0.25, size=samples))
    mu = size[:, None] * mean[None, :] * 2.0 ** np.outer(group == "high", beta)
    counts = rng.poisson(rng.gamma(1 / 0.1, mu * 0.1)).astype(np.int32)
    obs = pd.DataFrame({"rad_group": pd.Categorical(group, categories=["low", "high"]),
                        "rad_score": (group == "high") + rng.normal(0, 1, size=samples)},
                       index=[f"S{i:04d}" for i in range(samples)])
    var = pd.DataFrame({"gene_name": [f"G{i}" for i in range(genes)]},
                       index=[f"ENSG{i:011d}" for i in range(genes)])
    adata = ad.AnnData(X=np.zeros((samples, genes), dtype=np.float32), obs=obs, var=var)
    adata.layers["counts"] = counts
    return adata


def one(which: str, samples: int, genes: int, cpus: int) -> dict:
    import pandas as pd

    adata = make_counts(samples, genes)
    start = time.perf_counter()
    if which == "direct":
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.ds import DeseqStats

        counts = pd.DataFrame(adata.layers["counts"], index=adata.obs_names,
                              columns=adata.var_names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dds = DeseqDataSet(counts=counts, metadata=adata.obs[["rad_group"]],
                               design="~rad_group", n_cpus=cpus, quiet=True)
            dds.deseq2()
            stats = DeseqStats(dds, contrast=["rad_group", "high", "low"], n_cpus=cpus,
                               quiet=True)
            stats.summary()
        n_sig = int((stats.results_df["padj"] < 0.05).sum())
    else:
        from radiogenomics.expression import differential_expression

        differential_expression(adata, n_cpus=cpus, min_count=0, min_samples=1)
        n_sig = int((adata.uns["de"]["results"]["padj"] < 0.05).sum())
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"which": which, "seconds": seconds, "peak_mb": peak_mb, "n_sig": n_sig}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--one", choices=["direct", "suite"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.samples, args.genes, args.cpus)))
        return
    rows = []
    for _ in range(args.repeats):
        for which in ("direct", "suite"):
            out = subprocess.run(
                [sys.executable, __file__, "--one", which, "--samples", str(args.samples),
                 "--genes", str(args.genes), "--cpus", str(args.cpus)],
                check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{r['which']:>6}: {r['seconds']:7.1f} s, peak {r['peak_mb']:7.0f} MB, "
                  f"{r['n_sig']} genes padj < 0.05", flush=True)
    best = {w: min(r["seconds"] for r in rows if r["which"] == w) for w in ("direct", "suite")}
    print(f"\n{args.samples} samples × {args.genes} genes, {args.cpus} CPUs")
    print(f"suite / direct PyDESeq2: {best['suite'] / best['direct']:.3f}× (target ≤ 1.1×; "
          f"the suite also computes the VST matrix and the rad-score association)")


if __name__ == "__main__":
    main()
