"""Stage ``de``: PyDESeq2 differential expression between high and low rad-score tumours of the
linked transcriptome cohort, the genes' rank correlation with the rad-score, and the VST matrix
the enrichment stage and the figures use."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._files import atomic_write_h5ad, atomic_write_text, atomic_write_tsv, json_dumps
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .de import differential_expression

#: genes of highest variance that enter the PCA (DESeq2's plotPCA default)
PCA_TOP = 500


def vst_anndata(bulk: ad.AnnData, extra_obs: list[str]) -> ad.AnnData:
    """Samples × genes VST of the samples and genes DE tested (from ``layers["vst"]``)."""
    vst = np.asarray(bulk.layers["vst"])
    rows = np.isfinite(vst).any(axis=1)
    cols = np.isfinite(vst[rows]).all(axis=0)
    keys = [k for k in dict.fromkeys(["patient", "rad_score", "rad_prob", "rad_group",
                                      *extra_obs]) if k in bulk.obs]
    obs = bulk.obs.loc[rows, keys].copy()
    var = bulk.var.loc[cols, [c for c in ("gene_name", "gene_type") if c in bulk.var]].copy()
    return ad.AnnData(X=vst[np.ix_(rows, cols)].astype(np.float32), obs=obs, var=var)


def pca_table(vst: ad.AnnData, group_key: str) -> tuple[pd.DataFrame, list[float]]:
    """PC1/PC2 of the ``PCA_TOP`` most variable genes (centred, not scaled)."""
    from sklearn.decomposition import PCA

    x = np.asarray(vst.X, dtype=float)
    top = np.argsort(-x.var(axis=0), kind="stable")[:PCA_TOP]
    pca = PCA(n_components=2, svd_solver="full").fit(x[:, top])
    pcs = pca.transform(x[:, top])
    table = pd.DataFrame({"sample": vst.obs_names.astype(str), "PC1": pcs[:, 0], "PC2": pcs[:, 1],
                          group_key: vst.obs[group_key].astype(str).to_numpy()})
    if "patient" in vst.obs:
        table.insert(1, "patient", vst.obs["patient"].astype(str).to_numpy())
    return table, [float(v) for v in pca.explained_variance_ratio_]


def heatmap_table(vst: ad.AnnData, results: pd.DataFrame, group_key: str, reference: str,
                  top: int) -> pd.DataFrame:
    """Z-scored VST of the ``top`` genes by adjusted p (rows ordered by fold change; columns
    by group, then rad-score)."""
    ranked = results.dropna(subset=["padj"]).sort_values(["padj", "pvalue"], kind="stable")
    genes = ranked.head(top).sort_values("log2FoldChange", ascending=False).index
    x = pd.DataFrame(np.asarray(vst[:, genes].X), index=vst.obs_names, columns=genes)
    z = (x - x.mean()) / x.std(ddof=1).replace(0, np.nan)
    order_key = pd.DataFrame({"g": (vst.obs[group_key].astype(str) != reference).astype(int),
                              "s": vst.obs["rad_score"] if "rad_score" in vst.obs else 0.0})
    order = order_key.sort_values(["g", "s"], kind="stable").index
    out = z.loc[order].T
    out.index = results.loc[out.index, "gene_name"].astype(str) + " (" + out.index.astype(str) + ")"
    out.index.name = "gene"
    return out


def run(ctx: StageContext) -> None:
    """DE, association, VST, PCA and heatmap tables of the linked bulk AnnData."""
    cfg = ctx.config.de
    bulk = ad.read_h5ad(ctx.upstream["link"] / "bulk.h5ad")
    differential_expression(
        bulk, cfg.group_key, cfg.reference, covariates=cfg.covariates, min_count=cfg.min_count,
        min_samples=cfg.min_samples, size_factors=cfg.size_factors, alpha=cfg.alpha,
        lfc_threshold=cfg.lfc_threshold, shrink=cfg.shrink,
        score_key="rad_score" if "rad_score" in bulk.obs else None, n_cpus=cfg.n_cpus)
    record = bulk.uns["de"]
    out = ctx.out_dir
    atomic_write_tsv(out / "results.tsv", record["results"], index=True)
    if "association" in record:
        atomic_write_tsv(out / "association.tsv", record["association"], index=True)
    vst = vst_anndata(bulk, [cfg.group_key, *cfg.covariates])
    vst.uns["de_params"] = record["params"]
    atomic_write_h5ad(out / "vst.h5ad", vst)
    pca, explained = pca_table(vst, cfg.group_key)
    atomic_write_tsv(out / "pca.tsv", pca)
    atomic_write_tsv(out / "heatmap.tsv",
                     heatmap_table(vst, record["results"], cfg.group_key, cfg.reference,
                                   cfg.top_genes), index=True)
    params = {**record["params"], "pca_explained_variance": explained,
              "volcano_log2fc": cfg.volcano_log2fc}
    atomic_write_text(out / "params.json", json_dumps(params))


def report_sections(stage_dir: Path) -> list[Section]:
    """Volcano, MA, PCA, heatmap and the top genes (with their rad-score correlation)."""
    from .figures import heatmap_figure, ma_figure, pca_figure, volcano_figure

    params = json.loads((stage_dir / "params.json").read_text(encoding="utf-8"))
    results = pd.read_csv(stage_dir / "results.tsv", sep="\t", index_col=0,
                          keep_default_na=False, na_values=[""])
    results["gene_name"] = results["gene_name"].astype(str)
    alpha, lfc = params["alpha"], params["volcano_log2fc"]
    test, ref = params["test"], params["reference"]
    sig = results["padj"] < alpha
    n_up = int((sig & (results["log2FoldChange"] > 0)).sum())
    n_down = int((sig & (results["log2FoldChange"] < 0)).sum())
    cov = ", ".join(params["covariates"]) or "none"
    blocks: list = [TextBlock(
        f"PyDESeq2 Wald test of {test} against {ref} rad-score tumours "
        f"({params['n_test']} vs {params['n_reference']} samples; design {params['design']}; "
        f"covariates: {cov}). {params['n_genes_tested']} genes passed the low-count filter "
        f"(≥ {params['min_count']} reads in ≥ {params['min_samples']} samples). "
        f"{n_up} genes are higher and {n_down} lower in {test} rad-score tumours at "
        f"padj < {alpha} (Benjamini–Hochberg, with DESeq2's independent filtering).")]
    cols = ["gene_name", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
    table = results[cols].reset_index()
    blocks.append(FigureBlock(
        volcano_figure(results, alpha=alpha, log2fc=lfc, title=f"Volcano: {test} vs {ref} rad-score"),
        data=table, name="de_volcano",
        caption=f"Each point is a gene; coloured when padj < {alpha} and |log2FC| ≥ {lfc}. "
                "Hover for the gene. Overlapping not-significant genes are drawn once per "
                "display cell; the data download has every gene."))
    blocks.append(FigureBlock(
        ma_figure(results, alpha=alpha, log2fc=lfc, title="MA plot"),
        data=table, name="de_ma", caption="Fold change against mean expression."))
    pca = pd.read_csv(stage_dir / "pca.tsv", sep="\t", dtype={"sample": str, "patient": str})
    group = params["group_key"]
    hover = "patient" if "patient" in pca else "sample"
    blocks.append(FigureBlock(
        pca_figure(pca, params["pca_explained_variance"], group=group, hover=hover,
                   title="PCA of the variance-stabilised expression"),
        data=pca, name="de_pca",
        caption=f"The {PCA_TOP} most variable genes after the variance-stabilising transformation."))
    heat = pd.read_csv(stage_dir / "heatmap.tsv", sep="\t", index_col=0)
    if len(heat):
        vst_obs = ad.read_h5ad(stage_dir / "vst.h5ad", backed="r")
        groups = vst_obs.obs[group].astype(str)
        vst_obs.file.close()
        blocks.append(FigureBlock(
            heatmap_figure(heat, groups, title=f"Top {len(heat)} genes by adjusted p"),
            data=heat.reset_index(), name="de_heatmap",
            caption="Per-gene z-scores of the variance-stabilised expression; samples ordered "
                    "by group, then rad-score."))
    top = results[sig].sort_values("padj", kind="stable").head(100).reset_index()[["gene_id", *cols]]
    assoc_path = stage_dir / "association.tsv"
    if assoc_path.is_file():
        assoc = pd.read_csv(assoc_path, sep="\t", index_col=0)
        top["spearman_rho_rad_score"] = assoc["rho"].reindex(top["gene_id"]).to_numpy()
        n_assoc = int((assoc["padj"] < alpha).sum())
        blocks.append(TextBlock(
            f"Without dichotomising: {n_assoc} genes correlate with the continuous rad-score "
            f"(Spearman on the variance-stabilised expression, BH-adjusted p < {alpha})."))
    blocks.append(TableBlock(top, name="de_top_genes",
                             caption=f"Genes with padj < {alpha}, smallest first (first 100)."))
    return [Section(id="de", title="Radiogenomics: differential expression by rad-score group",
                    blocks=blocks)]
