"""The methods text, written as a manuscript's methods paragraphs from what the run recorded.

Every number and setting comes from the run directory: each stage's recorded parameters and
package versions (``stage.json``) and the parameters its analysis resolved (``params.json``,
``stability.json``, ``model.json``, the pyradiomics settings file the model stage kept). Nothing
is assumed from the defaults of the installed version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import ProseBlock, Section, TextBlock

__all__ = ["methods_paragraphs", "methods_section"]


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _version(records: dict[str, dict[str, Any]], package: str) -> str:
    for record in records.values():
        version = record.get("versions", {}).get(package)
        if version:
            return str(version)
    return "(version not recorded)"


def _list(items: Any) -> str:
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _params(records: dict[str, dict[str, Any]], stage: str) -> dict[str, Any]:
    return records.get(stage, {}).get("params", {}).get(stage, {})


def _extraction(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    if "extract" not in records:
        return None
    import yaml

    ext = _params(records, "extract")
    kept = run_dir / "model" / "extract_params.yaml"
    settings: dict[str, Any] = {}
    if kept.is_file():
        settings = yaml.safe_load(kept.read_text(encoding="utf-8")) or {}
    setting = settings.get("setting", {})
    image_types = []
    for name, opts in (settings.get("imageType") or {}).items():
        sigma = (opts or {}).get("sigma")
        image_types.append(f"{name} (σ = {_list(sigma)} mm)" if sigma else name)
    classes = list((settings.get("featureClass") or {}).keys())
    spacing = setting.get("resampledPixelSpacing")
    text = (f"Radiomic features were extracted from the contrast-enhanced CT inside the tumour "
            f"segmentation (label {ext.get('mask_label', 1)}) with pyradiomics "
            f"{_version(records, 'pyradiomics-bhklab')} (the pyradiomics-bhklab distribution) and "
            f"SimpleITK {_version(records, 'SimpleITK')}.")
    if settings:
        text += (f" Images were resampled to {' × '.join(str(s) for s in spacing)} mm voxels "
                 f"({setting.get('interpolator', 'sitkBSpline')} interpolation for the image, "
                 "nearest neighbour for the mask)" if spacing else " Images were not resampled")
        text += (f"; grey levels were discretised with a fixed bin width of "
                 f"{setting.get('binWidth', 25)} HU; features were computed on the "
                 f"{_list(image_types)} images for the {_list(classes)} feature classes.")
    text += (f" Cases whose segmentation had fewer than {ext.get('min_roi_voxels', 64)} voxels or "
             f"whose mask and image grids differed by more than "
             f"{ext.get('geometry_tolerance_mm', 2.0)} mm were excluded before extraction.")
    rob = _params(records, "robustness")
    if rob:
        text += (f" Feature robustness was measured on {rob.get('patients')} training patients by "
                 f"the intraclass correlation ICC(1,1) across seven versions of each case "
                 f"(as acquired; mask eroded, dilated and shifted by one voxel; Gaussian noise "
                 f"of {rob.get('noise_hu')} HU; CT numbers shifted by ±{rob.get('hu_shift')} HU).")
    return text


def _habitats(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    if "habitats" not in records:
        return None
    cfg = _params(records, "habitats")
    stability = _json(run_dir / "habitats" / "stability.json")
    criterion = {"calinski_harabasz": "the Calinski–Harabasz index", "silhouette":
                 "the silhouette width", "bic": "the Bayesian information criterion of a Gaussian "
                 "mixture"}.get(str(cfg.get("criterion")), str(cfg.get("criterion")))
    chosen = (f"K = {stability.get('k')} was fixed by the user" if cfg.get("k") else
              f"K = {stability.get('k')} was chosen by {criterion} over K = "
              f"{cfg.get('k_range', [2, 6])[0]}–{cfg.get('k_range', [2, 6])[1]}")
    names = {"hu": "HU", "local_entropy": "local entropy", "local_sd": "local standard deviation"}
    used = [names.get(f, f) for f in cfg.get("features", list(names))]
    listed = used[0] if len(used) == 1 else ", ".join(used[:-1]) + " and " + used[-1]
    local = (f" (local statistics in a {cfg.get('window')}-voxel neighbourhood)"
             if len(used) > 1 else "")
    text = (f"Habitat (intratumoral subregion) analysis clustered voxel features inside the "
            f"tumour: {listed}{local}. Each tumour was over-segmented into up to "
            f"{cfg.get('supervoxels')} supervoxels by k-means on the standardised voxel features "
            f"and voxel coordinates (spatial weight {cfg.get('spatial_weight')}); the supervoxels "
            f"of the {cfg.get('train_cohort', 'training')} cohort only were then clustered into "
            f"population habitats by k-means, and {chosen}. The scaler and centroids were applied "
            "unchanged to all other cohorts. Each patient's habitat volume fractions, per-habitat "
            "radiomic features (same pyradiomics settings per habitat mask), connected components "
            "and habitat contact fractions were computed.")
    ari = stability.get("ari_mean")
    if ari is not None:
        low, high = stability.get("ari_ci95", [None, None])
        text += (f" Stability was assessed by refitting on {len(stability.get('bootstrap_ari', []))} "
                 f"bootstrap resamples of training patients: adjusted Rand index {ari:.3f} "
                 f"(95% interval {low:.3f}–{high:.3f}).")
    return text


def _model(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    record = _json(run_dir / "model" / "model.json")
    if not record:
        return None
    from ..model.figures import LABELS

    cfg = record.get("model_config", {})
    params = record.get("params", {})
    learners = [LABELS.get(x, x) for x in cfg.get("learners", [])]
    return (
        f"Models were fitted on the {params.get('train_cohort', 'training')} cohort only "
        f"({record.get('train_patients', {}).get('n')} patients) with scikit-learn "
        f"{_version(records, 'scikit-learn')} and applied unchanged to the internal and external "
        f"cohorts. Features with ICC ≥ {cfg.get('icc_threshold')} ({cfg.get('feature_set')} "
        f"feature set: whole-tumour and/or habitat) were standardised on the training cohort; of "
        f"pairs correlated with |Spearman ρ| > {params.get('redundancy')} one was dropped, and a "
        f"LASSO logistic regression with the penalty chosen by {cfg.get('folds')}-fold "
        "cross-validation (the sparsest model within one standard error of the best AUC) "
        "defined the rad-score. A clinical logistic model "
        f"({_list(cfg.get('clinical', []))}) and a combined model (rad-score plus clinical "
        f"variables, presented as a nomogram) were fitted alongside {_list(learners)}; the model "
        f"reported as best ({LABELS.get(record.get('best'), record.get('best'))}) had the "
        "highest out-of-fold training AUC in nested cross-validation. Decision thresholds "
        "maximised Youden's index on out-of-fold training predictions and were carried unchanged "
        "to the other cohorts. AUC 95% confidence intervals and comparisons of correlated AUCs "
        f"used DeLong's method; threshold metrics have bootstrap intervals ({cfg.get('bootstrap')} "
        "resamples); calibration (intercept, slope, deciles) and decision-curve analysis were "
        "assessed in every cohort."
    )


def _transcriptome(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    if "ingest" not in records:
        return None
    ingest = _params(records, "ingest")
    link = _params(records, "link")
    text = ("TCGA-HNSC RNA-seq was read as the GDC's STAR gene counts (unstranded counts, "
            "versionless Ensembl IDs) with the sample sheet, clinical tables and the TCGA Pan-Cancer "
            f"Clinical Data Resource; sample types {_list(ingest.get('sample_types', ['01']))} "
            "were kept and one aliquot per patient was chosen by the GDC's replicate rules "
            "(analyte, then plate).")
    if link:
        text += (f" Tumours of the '{link.get('cohort')}' imaging cohort were assigned the "
                 f"{link.get('model')} rad-score of their CT and split into high and low groups "
                 + ("at the training threshold." if link.get("grouping") == "threshold"
                    else f"by {link.get('grouping')}."))
    return text


def _de(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    params = _json(run_dir / "de" / "params.json")
    if not params:
        return None
    covariates = params.get("covariates") or []
    text = (f"Differential expression used PyDESeq2 {_version(records, 'pydeseq2')} with design "
            f"{params.get('design')} ({params.get('test')} vs {params.get('reference')} rad-score; "
            f"{params.get('n_test')} vs {params.get('n_reference')} tumours"
            + (f"; adjusted for {_list(covariates)}" if covariates else "") + "). Genes with at "
            f"least {params.get('min_count')} reads in at least {params.get('min_samples')} samples "
            f"were tested ({params.get('n_genes_tested')} genes); size factors: "
            f"{params.get('size_factors')}. Wald tests"
            + (f" against |log2FC| > {params.get('lfc_threshold')}" if params.get("lfc_threshold")
               else "") + " were adjusted by Benjamini–Hochberg with independent filtering and "
            f"Cook's-distance outlier handling; significance at padj < {params.get('alpha')}"
            + ("; fold changes were shrunk with apeGLM" if params.get("shrink") else "") +
            f". The variance-stabilising transformation ({params.get('vst')}) served the PCA, "
            "heatmap, pathway scores and the Spearman correlation of every gene with the "
            "continuous rad-score.")
    return text


def _gsea(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    params = _json(run_dir / "gsea" / "params.json")
    if not params:
        return None
    cfg = _params(records, "gsea")
    collections = ", ".join(f"{name} ({n} sets)" for name, n in params.get("collections", {}).items())
    how = ("sample-label permutation (gseapy.gsea, signal-to-noise replaced by the t statistic "
           "of the variance-stabilised expression)" if cfg.get("permutation") == "phenotype"
           else f"preranked GSEA on the DESeq2 {cfg.get('rank_by')} statistic (gene-set permutation)")
    scores = params.get("pathway_scores", {}).get("description", "")
    return (f"Gene-set enrichment used gseapy {_version(records, 'gseapy')}: {how} with "
            f"{cfg.get('permutations')} permutations (seed {cfg.get('seed')}), sets of "
            f"{params.get('min_size')}–{params.get('max_size')} genes, collections {collections}, "
            f"FDR {params.get('fdr')} (significance at FDR < {params.get('fdr_shown')}). "
            + (f"Per-sample pathway scores: {scores}, correlated with the rad-score by Spearman."
               if scores else ""))


def _deconvolution(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    params = _json(run_dir / "deconvolve" / "params.json")
    if not params:
        return None
    method = {"wnnls": "weighted non-negative least squares (DWLS-like weights, dampened)",
              "nnls": "non-negative least squares",
              "cibersort": "ν-support-vector regression (CIBERSORT algorithm)"}.get(
        params.get("method"), params.get("method"))
    signature = params.get("signature", {})
    reference = Path(str(params.get("reference", ""))).name
    return (f"Cell-type fractions were estimated by {method} on CPM-normalised counts against a "
            f"signature built from the single-cell reference {reference} with scanpy "
            f"{_version(records, 'scanpy')} (donor pseudo-bulk profiles; up to "
            f"{signature.get('n_markers', _params(records, 'deconvolve').get('n_markers'))} marker "
            f"genes per cell type with log2 fold change ≥ {signature.get('min_log2fc')} and "
            f"detection ≥ {signature.get('min_detection')}; {params.get('n_signature_genes')} genes,"
            f" condition number {params.get('condition_number', float('nan')):.3g}), corrected for "
            "each cell type's mRNA content. Fractions were compared between rad-score groups by "
            f"Mann–Whitney U tests with Benjamini–Hochberg adjustment (α = {params.get('alpha')}) "
            "and correlated with the rad-score and habitat fractions by Spearman.")


def _survival(run_dir: Path, records: dict[str, dict[str, Any]]) -> str | None:
    params = _json(run_dir / "survival" / "params.json")
    if not params:
        return None
    method = {"lausen_schumacher": "with the Lausen–Schumacher correction of the p-value",
              "permutation": f"with a permutation p-value ({params.get('permutations')} "
                             "permutations)"}.get(params.get("cutpoint_method"), "")
    return (f"Survival analysis used lifelines {_version(records, 'lifelines')} on the TCGA-CDR "
            f"endpoints {_list(params.get('endpoints', []))}: Kaplan–Meier estimates "
            f"by {_list(params.get('groupings', []))}, log-rank tests, "
            f"and Cox proportional-hazards models (Efron ties) of "
            f"{_list(params.get('covariates', []))}, univariable and multivariable, with the "
            f"proportional-hazards assumption checked on Schoenfeld residuals (α = "
            f"{params.get('ph_alpha')}). An optimal {params.get('cutpoint_score')} cut-point was "
            f"sought by maximally selected log-rank statistics (each group ≥ "
            f"{params.get('min_fraction'):.0%} of patients) {method}."
            + (f" 95% confidence intervals: {params['ci']}." if params.get("ci") else ""))


def methods_paragraphs(run_dir: str | Path, records: dict[str, dict[str, Any]]) -> list[str]:
    """One paragraph per analysis step that ran, then the software versions."""
    run_dir = Path(run_dir)
    builders = (_extraction, _habitats, _model, _transcriptome, _de, _gsea, _deconvolution,
                _survival)
    paragraphs = [p for p in (b(run_dir, records) for b in builders) if p]
    versions: dict[str, str] = {}
    for record in records.values():
        versions.update({k: str(v) for k, v in record.get("versions", {}).items()})
    if versions:
        python = versions.pop("python", None)
        paragraphs.append(
            "Analyses ran in " + (f"Python {python} " if python else "") + "with "
            + _list(f"{k} {v}" for k, v in sorted(versions.items(), key=lambda kv: kv[0].lower()))
            + "; every stage's parameters, input checksums and output fingerprints are listed "
            "under Provenance.")
    return paragraphs


def methods_section(run_dir: str | Path, records: dict[str, dict[str, Any]]) -> Section | None:
    """The Methods section (copyable), or None when no stage recorded anything."""
    paragraphs = methods_paragraphs(run_dir, records)
    if not paragraphs:
        return None
    return Section(id="methods", title="Methods", blocks=[
        TextBlock("Generated from this run's recorded parameters and package versions."),
        ProseBlock(paragraphs, copy_label="Copy methods text")])
