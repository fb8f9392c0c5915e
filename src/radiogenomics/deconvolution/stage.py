"""Stage ``deconvolve``: cell-type fractions of every bulk tumour from a single-cell signature,
compared between rad-score groups and correlated with the rad-score and the habitats; the
reference's UMAP and where the DE and enrichment genes are expressed; the pseudo-bulk
benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._files import atomic_write_text, atomic_write_tsv, json_dumps, run_relative
from .._logging import logger
from ..config import AnalysisConfig
from ..errors import UserError
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .markers import read_reference
from .methods import deconvolve_adata
from .signature import build_signature


def reference_path(configured: Path | None, run_dir: Path) -> Path:
    """A configured single-cell reference, or the simulated world's."""
    if configured is not None:
        return configured
    from ..simulate.stage import world_dir

    return world_dir(run_dir / "simulate") / "reference" / "reference.h5ad"


def external_inputs(cfg: AnalysisConfig) -> list[Path]:
    return [cfg.deconvolve.reference] if cfg.deconvolve.reference is not None else []


def group_tests(fractions: pd.DataFrame, groups: pd.Series, reference: str = "low",
                test: str = "high") -> pd.DataFrame:
    """Mann–Whitney U per type between the groups, BH-adjusted."""
    from scipy.stats import mannwhitneyu
    from statsmodels.stats.multitest import multipletests

    rows = []
    for t in fractions.columns:
        a = fractions.loc[groups == test, t].dropna()
        b = fractions.loc[groups == reference, t].dropna()
        if len(a) < 2 or len(b) < 2:
            continue
        res = mannwhitneyu(a, b, alternative="two-sided")
        rows.append({"cell_type": t, f"median_{reference}": b.median(), f"median_{test}": a.median(),
                     "log2_ratio_of_medians": np.log2(max(a.median(), 1e-6) / max(b.median(), 1e-6)),
                     "U": float(res.statistic), "p": float(res.pvalue)})
    table = pd.DataFrame(rows)
    if len(table):
        table["padj"] = multipletests(table["p"], method="fdr_bh")[1]
    return table


def correlations(fractions: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Spearman ρ (long table, BH over all pairs) between fractions and feature columns."""
    from scipy.stats import spearmanr
    from statsmodels.stats.multitest import multipletests

    rows = []
    common = fractions.index.intersection(features.index)
    for f in features.columns:
        for t in fractions.columns:
            x, y = fractions.loc[common, t], features.loc[common, f]
            ok = x.notna() & y.notna()
            if ok.sum() < 5 or y[ok].nunique() < 2:
                continue
            rho, p = spearmanr(x[ok], y[ok])
            rows.append({"cell_type": t, "feature": f, "rho": float(rho), "p": float(p),
                         "n": int(ok.sum())})
    table = pd.DataFrame(rows)
    if len(table):
        table["padj"] = multipletests(table["p"], method="fdr_bh")[1]
    return table


def reference_umap(reference: ad.AnnData, cell_type_key: str, n_cells: int,
                   seed: int) -> pd.DataFrame:
    """UMAP of (a random subset of) the reference: normalise, log1p, 2000 variable genes, PCA,
    neighbours, UMAP (scanpy)."""
    import scanpy as sc

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(reference.n_obs, size=min(n_cells, reference.n_obs), replace=False))
    sub = reference[idx].copy()
    sc.pp.normalize_total(sub, target_sum=1e4)
    sc.pp.log1p(sub)
    sc.pp.highly_variable_genes(sub, n_top_genes=min(2000, sub.n_vars))
    sub = sub[:, sub.var["highly_variable"]].copy()
    sc.pp.pca(sub, n_comps=min(30, sub.n_vars - 1, sub.n_obs - 1), random_state=seed)
    sc.pp.neighbors(sub, random_state=seed)
    sc.tl.umap(sub, random_state=seed)
    return pd.DataFrame({"cell": sub.obs_names.astype(str),
                         "cell_type": sub.obs[cell_type_key].astype(str).to_numpy(),
                         "UMAP1": sub.obsm["X_umap"][:, 0], "UMAP2": sub.obsm["X_umap"][:, 1]})


def dotplot_table(reference: ad.AnnData, genes: list[str], cell_type_key: str) -> pd.DataFrame:
    """Per type and gene: mean log1p(CP10k) and the fraction of cells expressing it."""
    import scipy.sparse as sp

    genes = [g for g in dict.fromkeys(genes) if g in reference.var_names]
    if not genes:
        return pd.DataFrame(columns=["gene", "cell_type", "mean_expression", "fraction_expressing"])
    x = reference.X
    totals = np.asarray(x.sum(axis=1)).ravel()
    sub = reference[:, genes].X
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    norm = np.log1p(sub / np.maximum(totals, 1)[:, None] * 1e4)
    types = reference.obs[cell_type_key].astype(str).to_numpy()
    rows = []
    for t in pd.unique(types):
        m = types == t
        for j, g in enumerate(genes):
            rows.append({"gene": g, "cell_type": t, "mean_expression": float(norm[m, j].mean()),
                         "fraction_expressing": float((sub[m, j] > 0).mean())})
    return pd.DataFrame(rows)


def _genes_of_interest(run_dir: Path) -> list[str]:
    """Top DE genes (10 up, 10 down by adjusted p) and the lead genes of the top enriched set."""
    genes: list[str] = []
    de = run_dir / "de" / "results.tsv"
    if de.is_file():
        res = pd.read_csv(de, sep="\t", index_col=0, keep_default_na=False, na_values=[""])
        res = res.dropna(subset=["padj"]).sort_values("padj", kind="stable")
        genes += res[res["log2FoldChange"] > 0]["gene_name"].astype(str).head(10).tolist()
        genes += res[res["log2FoldChange"] < 0]["gene_name"].astype(str).head(10).tolist()
    gsea = run_dir / "gsea" / "gsea.tsv"
    if gsea.is_file():
        table = pd.read_csv(gsea, sep="\t", keep_default_na=False)
        if len(table):
            genes += str(table.iloc[0]["Lead_genes"]).split(";")[:10]
    return genes


def run(ctx: StageContext) -> None:
    """Signature, fractions, comparisons, single-cell views and the benchmark."""
    cfg = ctx.config.deconvolve
    ref_path = reference_path(cfg.reference, ctx.run_dir)
    reference = read_reference(ref_path)
    try:
        signature = build_signature(reference, cfg.cell_type_key, cfg.donor_key,
                                    n_markers=cfg.n_markers)
    except UserError as exc:
        raise UserError(f"{ref_path}: {exc}") from None
    bulk = ad.read_h5ad(ctx.upstream["link"] / "bulk.h5ad")
    deconvolve_adata(bulk, signature, cfg.method, layer=cfg.layer, correct_bias=cfg.correct_bias,
                     permutations=cfg.permutations, seed=cfg.seed)
    fractions = bulk.obsm["cell_fractions"]
    out = ctx.out_dir
    meta = pd.DataFrame({"patient": bulk.obs["patient"].astype(str),
                         "rad_score": bulk.obs.get("rad_score"),
                         "rad_group": bulk.obs.get("rad_group")}, index=bulk.obs_names)
    table = meta.join(fractions)
    table.index.name = "sample"
    atomic_write_tsv(out / "fractions.tsv", table, index=True)
    atomic_write_tsv(out / "diagnostics.tsv",
                     bulk.uns["deconvolution"]["diagnostics"].rename_axis("sample"), index=True)
    atomic_write_tsv(out / "signature.tsv", signature.matrix.rename_axis("gene"), index=True)
    atomic_write_tsv(out / "markers.tsv", signature.markers)
    linked = meta["rad_group"].notna()
    tests = group_tests(fractions[linked.to_numpy()], meta.loc[linked, "rad_group"].astype(str))
    atomic_write_tsv(out / "group_tests.tsv", tests)
    features = meta.loc[linked, ["rad_score"]].copy()
    features.index = meta.loc[linked, "patient"]
    habitats = ctx.upstream.get("habitats")
    if habitats is not None and (habitats / "radiomics.h5ad").is_file():
        rad = ad.read_h5ad(habitats / "radiomics.h5ad", backed="r")
        if "habitat_fractions" in rad.obsm:
            hf = pd.DataFrame(rad.obsm["habitat_fractions"], index=rad.obs_names.astype(str))
            hf.columns = [f"habitat_fraction_{c}" for c in hf.columns]
            features = features.join(hf, how="left")
        rad.file.close()
    by_patient = fractions[linked.to_numpy()].copy()
    by_patient.index = meta.loc[linked, "patient"]
    atomic_write_tsv(out / "correlations.tsv", correlations(by_patient, features))
    if cfg.umap_cells:
        atomic_write_tsv(out / "umap.tsv", reference_umap(reference, cfg.cell_type_key,
                                                           cfg.umap_cells, cfg.seed))
    atomic_write_tsv(out / "dotplot.tsv", dotplot_table(reference, _genes_of_interest(ctx.run_dir),
                                                        cfg.cell_type_key))
    if cfg.benchmark_mixtures:
        from .benchmark import pseudobulk_benchmark

        per_type, summary = pseudobulk_benchmark(
            reference, cell_type_key=cfg.cell_type_key, donor_key=cfg.donor_key,
            methods=cfg.benchmark_methods, n_mixtures=cfg.benchmark_mixtures,
            n_markers=cfg.n_markers, seed=cfg.seed)
        atomic_write_tsv(out / "benchmark.tsv", per_type)
        # timings apart from the results, which are then identical from run to run
        atomic_write_tsv(out / "benchmark_summary.tsv", summary.drop(columns="seconds"))
        atomic_write_tsv(out / "benchmark_timings.tsv",
                         summary[["scenario", "method", "seconds"]])
    params = {**bulk.uns["deconvolution"]["params"],
              "reference": run_relative(ref_path, ctx.run_dir),
              "mrna_content": signature.mrna_content.to_dict(), "alpha": cfg.alpha,
              "n_linked": int(linked.sum())}
    atomic_write_text(out / "params.json", json_dumps(params))
    logger.info("deconvolve: %d samples; %d of %d types differ between rad-score groups "
                "(padj < %g)", len(fractions), int((tests.get("padj", pd.Series(dtype=float))
                                                    < cfg.alpha).sum()),
                fractions.shape[1], cfg.alpha)


def report_sections(stage_dir: Path) -> list[Section]:
    """Fractions by rad-score, group comparison, correlations, single-cell views, benchmark."""
    from ..report.figures import box_by_group, stacked_bars
    from .figures import correlation_heatmap, dotplot_figure, umap_figure

    params = json.loads((stage_dir / "params.json").read_text(encoding="utf-8"))
    table = pd.read_csv(stage_dir / "fractions.tsv", sep="\t", dtype={"sample": str, "patient": str})
    types = [c for c in table.columns if c not in ("sample", "patient", "rad_score", "rad_group")]
    tests = pd.read_csv(stage_dir / "group_tests.tsv", sep="\t")
    alpha = params["alpha"]
    sig = tests[tests["padj"] < alpha] if len(tests) else tests
    blocks: list = [TextBlock(
        f"Cell-type fractions of {len(table)} tumours by {params['method']} "
        f"({'with' if params['correct_bias'] else 'without'} platform-bias correction) on "
        f"{params['n_signature_genes']} signature genes (condition number "
        f"{params['condition_number']:.1f}) from {params['signature']['n_cells']} reference "
        f"cells of {params['signature']['n_donors']} donors; RNA fractions divided by each "
        f"type's mRNA content give cell fractions. Between rad-score groups "
        f"({params['n_linked']} linked tumours; Mann–Whitney, BH), "
        + (f"{len(sig)} type(s) differ at padj < {alpha}: "
           + ", ".join(f"{r.cell_type} ({'higher' if r.log2_ratio_of_medians > 0 else 'lower'} "
                       f"in high, padj {r.padj:.2g})" for r in sig.itertuples())
           if len(sig) else f"no type differs at padj < {alpha}.") )]
    linked = table[table["rad_group"].notna()].sort_values("rad_score", kind="stable")
    if len(linked):
        blocks.append(FigureBlock(
            stacked_bars(linked, index="patient", columns=types,
                         title="Cell fractions of the linked tumours, ordered by rad-score"),
            data=linked, name="cell_fractions_by_radscore",
            caption="One bar per tumour, lowest rad-score on the left."))
        long = linked.melt(id_vars=["patient", "rad_group"], value_vars=types,
                           var_name="cell_type", value_name="fraction")
        blocks.append(FigureBlock(
            box_by_group(long, value="fraction", group="cell_type", color="rad_group",
                         hover="patient", title="Cell fractions, high vs low rad-score"),
            data=long, name="cell_fractions_by_group", caption="Mann–Whitney tests below."))
        blocks.append(TableBlock(tests, name="cell_fraction_tests",
                                 caption="High vs low rad-score, per cell type (BH-adjusted)."))
    corr_path = stage_dir / "correlations.tsv"
    try:
        corr = pd.read_csv(corr_path, sep="\t")
    except pd.errors.EmptyDataError:
        corr = pd.DataFrame()
    if len(corr):
        blocks.append(FigureBlock(
            correlation_heatmap(corr, title="Spearman ρ: cell fractions × rad-score and habitat "
                                            "fractions"),
            data=corr, name="cell_fraction_correlations",
            caption="Linked patients; hover for ρ and the BH-adjusted p."))
    umap_path = stage_dir / "umap.tsv"
    if umap_path.is_file():
        umap = pd.read_csv(umap_path, sep="\t", dtype={"cell": str})
        blocks.append(FigureBlock(umap_figure(umap, title="Single-cell reference (UMAP)"),
                                  data=umap, name="reference_umap",
                                  caption=f"{len(umap)} reference cells coloured by type."))
    dots = pd.read_csv(stage_dir / "dotplot.tsv", sep="\t")
    if len(dots):
        blocks.append(FigureBlock(
            dotplot_figure(dots, title="Where do the rad-score genes live? (top DE and lead genes)"),
            data=dots, name="genes_by_cell_type",
            caption="Dot size: fraction of the type's cells expressing the gene; colour: mean "
                    "log-normalised expression."))
    bench = stage_dir / "benchmark_summary.tsv"
    if bench.is_file():
        summary = pd.read_csv(bench, sep="\t", keep_default_na=False)
        timings = stage_dir / "benchmark_timings.tsv"
        if timings.is_file():
            summary = summary.merge(pd.read_csv(timings, sep="\t", keep_default_na=False),
                                    on=["scenario", "method"], how="left")
        blocks.append(TableBlock(summary, name="deconvolution_benchmark",
                                 caption="Pseudo-bulk benchmark (signature from training donors, "
                                         "mixtures from held-out donors): mean per-type Pearson "
                                         "r, RMSE and Lin's concordance, and wall time."))
    return [Section(id="deconvolve", title="Immune microenvironment", blocks=blocks)]
