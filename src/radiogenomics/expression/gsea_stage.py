"""Stage ``gsea``: preranked GSEA of the DE statistic with the configured GMT collections and
the single-cell reference's cell-type markers, and per-sample pathway scores against the
rad-score."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._files import atomic_write_text, atomic_write_tsv, file_md5, json_dumps, run_relative
from .._logging import logger
from ..config import AnalysisConfig
from ..errors import UserError
from ..io.genesets import read_gmt, write_gmt
from ..pipeline import StageContext
from ..report.model import FigureBlock, Section, TableBlock, TextBlock
from .enrichment import enrichment, pathway_scores

#: collection name of the sets built from the single-cell reference
MARKER_COLLECTION = "cell_type_markers"
#: running-score plots shown in the report at most
MAX_RUNNING_PLOTS = 12


def gmt_files(cfg: AnalysisConfig, run_dir: Path) -> list[Path]:
    """The configured GMT files, or the simulated world's when none are configured."""
    from ..simulate.stage import world_dir

    return (list(cfg.gsea.gene_sets)
            or [world_dir(run_dir / "simulate") / "gene_sets" / "gene_sets.gmt"])


def external_inputs(cfg: AnalysisConfig) -> list[Path]:
    """Configured GMT files and reference (the simulated world's are covered by ``simulate``)."""
    files = list(cfg.gsea.gene_sets)
    if cfg.gsea.marker_sets and cfg.gsea.reference is not None:
        files.append(cfg.gsea.reference)
    return files


def marker_sets(path: Path, cfg: AnalysisConfig) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Cell-type marker sets ``CELLTYPE_<TYPE>`` from the reference at ``path``."""
    from ..deconvolution.markers import marker_genes, read_reference

    reference = read_reference(path)
    g = cfg.gsea
    try:
        markers = marker_genes(reference, cell_type_key=g.cell_type_key, donor_key=g.donor_key,
                               n_markers=g.n_markers)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    sets = {}
    for cell_type, part in markers.groupby("cell_type", sort=False):
        name = "CELLTYPE_" + re.sub(r"[^A-Za-z0-9]+", "_", str(cell_type)).strip("_").upper()
        sets[name] = part["gene"].astype(str).tolist()
    return sets, markers


def read_de_outputs(de_dir: Path) -> ad.AnnData:
    """The DE stage's ``vst.h5ad`` with its matrix as ``layers["vst"]`` and ``results.tsv`` and
    the DE parameters in ``uns["de"]``: what :func:`enrichment` and the pathway scores read."""
    results = pd.read_csv(de_dir / "results.tsv", sep="\t", index_col=0, keep_default_na=False,
                          na_values=[""])
    results["gene_name"] = results["gene_name"].astype(str)
    vst = ad.read_h5ad(de_dir / "vst.h5ad")
    vst.layers["vst"] = np.asarray(vst.X)
    vst.uns["de"] = {"results": results, "params": vst.uns.get("de_params", {})}
    return vst


def run(ctx: StageContext) -> None:
    """Enrichment of the DE ranking and per-sample pathway scores."""
    cfg = ctx.config.gsea
    vst = read_de_outputs(ctx.upstream["de"])
    collections: dict[str, dict[str, list[str]]] = {}
    sources = []
    for path in gmt_files(ctx.config, ctx.run_dir):
        name = path.name.removesuffix(".gmt")
        if name in collections:
            msg = f"gsea.gene_sets: two GMT files are named {path.name}; rename one"
            raise UserError(msg)
        collections[name] = read_gmt(path)
        sources.append({"collection": name, "file": run_relative(path, ctx.run_dir),
                        "md5": file_md5(path),
                        "n_sets": len(collections[name])})
    if cfg.marker_sets:
        from ..deconvolution.stage import reference_path

        ref = reference_path(cfg.reference, ctx.run_dir)
        sets, markers = marker_sets(ref, ctx.config)
        collections[MARKER_COLLECTION] = sets
        atomic_write_tsv(ctx.out_dir / "markers.tsv", markers)
        write_gmt(ctx.out_dir / f"{MARKER_COLLECTION}.gmt", sets,
                  {k: f"markers of {k.removeprefix('CELLTYPE_')} in {ref.name}" for k in sets})
        sources.append({"collection": MARKER_COLLECTION, "file": run_relative(ref, ctx.run_dir),
                        "md5": file_md5(ref),
                        "n_sets": len(sets)})
    threads = cfg.threads or 1
    enrichment(vst, collections, permutation=cfg.permutation, rank_by=cfg.rank_by,
               layer="vst", permutations=cfg.permutations,
               seed=cfg.seed, threads=threads, min_size=cfg.min_size, max_size=cfg.max_size)
    gsea = vst.uns["gsea"]
    table = gsea["results"]
    out = ctx.out_dir
    atomic_write_tsv(out / "gsea.tsv", table)
    atomic_write_tsv(out / "ranking.tsv", gsea["ranking"].rename_axis("gene").reset_index())
    shown = table[table["FDR q-val"] < cfg.fdr]["Term"].tolist()
    running = [gsea["running"][t].assign(term=t) for t in shown]
    if running:
        atomic_write_tsv(out / "running_es.tsv", pd.concat(running, ignore_index=True))
    all_sets = {name: genes for sets in collections.values() for name, genes in sets.items()}
    tested = {t: all_sets[t] for t in table["Term"]}
    pathway_scores(vst, tested, method=cfg.scores, layer="vst", min_size=cfg.min_size, max_size=cfg.max_size,
                   threads=threads, seed=cfg.seed)
    scores = vst.obsm["pathway_scores"]
    scores.index.name = "sample"
    atomic_write_tsv(out / "pathway_scores.tsv", scores, index=True)
    atomic_write_tsv(out / "samples.tsv", linked_samples(vst))
    if "association" in vst.uns["pathway_scores"]:
        atomic_write_tsv(out / "pathway_association.tsv",
                         vst.uns["pathway_scores"]["association"], index=True)
    logger.info("gsea: %d of %d sets with FDR < %g", len(shown), len(table), cfg.fdr)
    atomic_write_text(out / "params.json", json_dumps({
        **gsea["params"], "fdr_shown": cfg.fdr, "sources": sources,
        "pathway_scores": vst.uns["pathway_scores"]["params"]}))


def report_sections(stage_dir: Path) -> list[Section]:
    """NES chart, running-score plots of significant sets, pathway score against rad-score."""
    from ..report.figures import scatter
    from .figures import nes_figure, running_es_figure, thin_running

    params = json.loads((stage_dir / "params.json").read_text(encoding="utf-8"))
    table = pd.read_csv(stage_dir / "gsea.tsv", sep="\t", keep_default_na=False,
                        na_values=[""], dtype={"Term": str, "Lead_genes": str, "collection": str})
    fdr = params["fdr_shown"]
    sig = table[table["FDR q-val"] < fdr]
    coll = "; ".join(f"{s['collection']} ({s['n_sets']} sets, md5 {s['md5'][:8]})"
                     for s in params["sources"])
    if params["permutation"] == "phenotype":
        how = (f"GSEA (gseapy) with {params['permutations']} permutations of the samples' group "
               f"labels (seed {params['seed']}; robust to genes that move together), the "
               f"{params['n_ranked_genes']} genes ranked by the t statistic of the "
               f"variance-stabilised expression, {params['test']} against {params['reference']}")
    else:
        how = (f"Preranked GSEA (gseapy) of the {params['n_ranked_genes']} genes ranked by the DE "
               f"{params['rank_by']}, {params['permutations']} gene-set permutations (seed "
               f"{params['seed']}; co-expressed sets can reach small FDRs by chance)")
    blocks: list = [TextBlock(
        f"{how}; sets of {params['min_size']}–{params['max_size']} genes, FDR within each "
        f"collection. Collections: {coll}. {len(sig)} of {len(table)} sets have FDR < {fdr} "
        f"({int((sig['NES'] > 0).sum())} enriched in high, {int((sig['NES'] < 0).sum())} in "
        f"low rad-score tumours).")]
    blocks.append(FigureBlock(nes_figure(table, fdr=fdr, title="Gene-set enrichment (NES)"),
                              data=table, name="gsea_nes",
                              caption=f"Coloured bars: FDR < {fdr}; positive NES: higher in high "
                                      f"rad-score tumours."))
    running_path = stage_dir / "running_es.tsv"
    if running_path.is_file() and len(sig):
        running = pd.read_csv(running_path, sep="\t", dtype={"gene": str, "term": str},
                              keep_default_na=False)
        shown = sig.head(MAX_RUNNING_PLOTS)
        thinned = pd.concat([thin_running(running[running["term"] == t].reset_index(drop=True))
                             for t in shown["Term"]], ignore_index=True)
        blocks.append(FigureBlock(
            running_es_figure(thinned, shown[["Term", "NES", "FDR q-val", "Lead_genes"]],
                              permutations=params["permutations"]),
            data=thinned, name="gsea_running_scores",
            caption=f"Running enrichment score of the sets with FDR < {fdr} (choose one in the "
                    f"menu; first {len(shown)}): ticks mark the set's genes along the ranking, "
                    f"lead genes in colour."))
    scores = pd.read_csv(stage_dir / "pathway_scores.tsv", sep="\t", index_col=0)
    method = params["pathway_scores"]["description"]
    assoc_path = stage_dir / "pathway_association.tsv"
    if assoc_path.is_file():
        assoc = pd.read_csv(assoc_path, sep="\t", index_col=0).sort_values("pvalue", kind="stable")
        blocks.append(TableBlock(assoc.reset_index(), name="pathway_rad_score_correlation",
                                 caption=f"Spearman correlation of each set's per-sample score "
                                         f"({method}) with the rad-score (BH-adjusted)."))
        linked = pd.read_csv(stage_dir / "samples.tsv", sep="\t",
                             dtype={"sample": str, "patient": str})
        for term in assoc.index[:4]:
            data = pd.DataFrame({"sample": scores.index.astype(str).to_numpy(),
                                 "score": scores[term].to_numpy()})
            data = data.merge(linked, on="sample", how="inner").dropna()
            if data.empty:
                continue
            rho = assoc.loc[term, "rho"]
            blocks.append(FigureBlock(
                scatter(data, x="rad_score", y="score", color="rad_group", hover="patient",
                        title=f"{term}: pathway score against rad-score (ρ = {rho:.2f})",
                        x_label="rad-score", y_label="pathway score"),
                data=data, name=f"pathway_score_{term}",
                caption=f"One point per linked tumour; score: {method}."))
    return [Section(id="gsea", title="Radiogenomics: gene-set enrichment", blocks=blocks)]


def linked_samples(vst: ad.AnnData) -> pd.DataFrame:
    """Sample, patient, rad-score and group of the tumours DE compared."""
    obs = vst.obs
    return pd.DataFrame({
        "sample": obs.index.astype(str),
        "patient": obs["patient"].astype(str).to_numpy() if "patient" in obs else obs.index.astype(str),
        "rad_score": obs["rad_score"].to_numpy(dtype=float) if "rad_score" in obs else np.nan,
        "rad_group": obs["rad_group"].astype(str).to_numpy() if "rad_group" in obs else "",
    })
