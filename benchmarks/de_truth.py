"""DE and GSEA of a finished run on a simulated world, scored against the planted truth; with
``--permute``, the same analysis with ``rad_group`` permuted (the null).

Usage: ``python benchmarks/de_truth.py RUN_DIR [--permute SEED]``

Planted DE genes are those whose true |log2FC| (latent-high vs latent-low tumours, recorded in
``truth/de_genes.tsv``) reaches the world's ``de_min_log2fc``. Precision counts a call (padj <
0.05) as right when the gene is planted and the sign agrees; recall is the share of planted
genes called. Planted gene sets must have FDR < 0.05 with the planted sign; decoys FDR ≥ 0.25.
Targets (issue #8): precision ≥ 0.9, recall ≥ 0.7, every planted set, ≥ 90% of decoys; null:
< 1% of genes with padj < 0.05 and no set with FDR < 0.05.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.simulate.stage import world_dir


def score(de: pd.DataFrame, gsea: pd.DataFrame, world: Path) -> None:
    truth = pd.read_csv(world / "truth" / "de_genes.tsv", sep="\t", index_col=0)
    res = de.join(truth[["true_log2FC", "de"]])
    called = res["padj"] < 0.05
    right = res["de"] & (np.sign(res["true_log2FC"]) == np.sign(res["log2FoldChange"]))
    precision = (called & right).sum() / max(called.sum(), 1)
    recall = (called & res["de"]).sum() / res["de"].sum()
    print(f"genes tested {len(res)}, padj < 0.05: {int(called.sum())} "
          f"({100 * called.mean():.2f}%); planted DE genes {int(res['de'].sum())}")
    print(f"precision {precision:.3f} (target ≥ 0.9), recall {recall:.3f} (target ≥ 0.7)")
    sets = pd.read_csv(world / "truth" / "gene_sets.tsv", sep="\t", index_col=0)
    table = sets.join(gsea.set_index("Term")[["NES", "FDR q-val"]], how="left")
    planted = table[table["direction"] != "none"]
    ok = (planted["FDR q-val"] < 0.05) & (np.sign(planted["NES"]) == np.sign(planted["log_effect_per_sd"]))
    decoys = table[table["direction"] == "none"]
    print(f"planted sets with FDR < 0.05 and the planted sign: {int(ok.sum())} of {len(planted)}")
    print(f"decoy sets with FDR ≥ 0.25: {int((decoys['FDR q-val'] >= 0.25).sum())} of {len(decoys)}")
    print(f"any set with FDR < 0.05: {int((gsea['FDR q-val'] < 0.05).sum())} of {len(gsea)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--permute", type=int, help="permute rad_group with this seed and rerun")
    parser.add_argument("--preranked", action="store_true",
                        help="with --permute: preranked GSEA (gene-set permutation) instead")
    args = parser.parse_args()
    run_dir = args.run_dir
    world = world_dir(run_dir / "simulate")
    if args.permute is None:
        de = pd.read_csv(run_dir / "de" / "results.tsv", sep="\t", index_col=0)
        gsea = pd.read_csv(run_dir / "gsea" / "gsea.tsv", sep="\t")
        score(de, gsea, world)
        return
    import anndata as ad

    from radiogenomics.expression import differential_expression, enrichment
    from radiogenomics.io import read_gmt

    bulk = ad.read_h5ad(run_dir / "link" / "bulk.h5ad")
    linked = bulk.obs["rad_group"].notna().to_numpy()
    groups = bulk.obs["rad_group"].astype(object).to_numpy()
    groups[linked] = np.random.default_rng(args.permute).permutation(groups[linked])
    bulk.obs["rad_group"] = pd.Categorical(groups, categories=["low", "high"])
    differential_expression(bulk, score_key=None)
    params = json.loads((run_dir / "gsea" / "params.json").read_text(encoding="utf-8"))
    # the stage records its sources relative to the run directory
    collections = {s["collection"]: read_gmt(run_dir / s["file"]) for s in params["sources"]
                   if s["file"].endswith(".gmt")}
    markers = run_dir / "gsea" / "cell_type_markers.gmt"
    if markers.is_file():
        collections["cell_type_markers"] = read_gmt(markers)
    enrichment(bulk, collections, permutations=params["permutations"], seed=params["seed"],
               permutation="gene_set" if args.preranked else "phenotype")
    print(f"null: rad_group permuted (seed {args.permute}); "
          f"{'preranked' if args.preranked else 'label-permutation'} GSEA", file=sys.stderr)
    score(bulk.uns["de"]["results"], bulk.uns["gsea"]["results"], world)


if __name__ == "__main__":
    main()
