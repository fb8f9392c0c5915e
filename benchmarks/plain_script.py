"""The comparator: the serial script a user would otherwise write for the same study.

    python benchmarks/plain_script.py WORLD [--out DIR]

One process, no caching, no parallelism, the same libraries called one after another on a
simulated world: a pyradiomics loop over every CT case (SimpleITK reads NRRD files and DICOM
series; the DICOM-SEG masks are read with pydicom), a LASSO logistic rad-score fitted on the
training cohort (scikit-learn) with its AUC per cohort, the GDC counts assembled with pandas,
PyDESeq2 for high vs low rad-score, gseapy on the gene-set file, a ν-SVR deconvolution
(scikit-learn NuSVR, CIBERSORT's algorithm) against the single-cell reference's pseudo-bulk
profiles, and a lifelines Cox model. It prints the seconds of each step and in all as
``step<TAB>seconds`` lines (``benchmarks/run_all.py`` reads them).

It does less than the pipeline (no QC, habitats, robustness, nested cross-validation, bootstrap
intervals, report), which is what makes it the fair floor to compare the suite's speed with.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

TIMES: dict[str, float] = {}


def step(name: str):  # noqa: ANN201
    """Decorator-free timer: ``with step("x"): ...`` records seconds under ``x``."""
    class _Timer:
        def __enter__(self) -> None:
            self.start = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            TIMES[name] = time.perf_counter() - self.start
            print(f"{name}\t{TIMES[name]:.2f}", flush=True)

    return _Timer()


def read_ct(path: Path):  # noqa: ANN201
    import SimpleITK as sitk

    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        return reader.Execute()
    return sitk.ReadImage(str(path))


def read_seg(path: Path, ct):  # noqa: ANN001, ANN201
    """A binary DICOM-SEG onto the CT grid: frame k lies at its ImagePositionPatient."""
    import pydicom
    import SimpleITK as sitk

    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    mask = np.zeros(sitk.GetArrayViewFromImage(ct).shape, np.uint8)
    for k, frame in enumerate(ds.PerFrameFunctionalGroupsSequence):
        ipp = [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
        z = int(round(ct.TransformPhysicalPointToContinuousIndex(ipp)[2]))
        mask[z] |= frames[k].astype(np.uint8)
    out = sitk.GetImageFromArray(mask)
    out.CopyInformation(ct)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", type=Path)
    parser.add_argument("--params", type=Path,
                        default=Path(__file__).resolve().parents[1] / "analyses" / "params" / "ct.yaml")
    parser.add_argument("--out", type=Path, help="write the step times as JSON here")
    args = parser.parse_args()
    world = args.world
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    start_all = time.perf_counter()

    # 1. radiomics features, one case after another
    import radiomics
    import SimpleITK as sitk
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)

    cases = pd.read_csv(world / "imaging" / "cases.tsv", sep="\t", dtype={"patient_id": str})
    extractor = featureextractor.RadiomicsFeatureExtractor(str(args.params))
    rows = {}
    with step("pyradiomics loop"):
        for case in cases.itertuples():
            ct = read_ct(world / "imaging" / case.image)
            if case.mask_format == "dicom-seg":
                mask = read_seg(world / "imaging" / case.mask, ct)
            else:
                mask = sitk.ReadImage(str(world / "imaging" / case.mask))
            try:
                result = extractor.execute(ct, mask)
            except ValueError:
                continue
            rows[case.patient_id] = {k: float(np.asarray(v)) for k, v in result.items()
                                     if not k.startswith("diagnostics_")}
    features = pd.DataFrame.from_dict(rows, orient="index")

    # 2. a LASSO rad-score on the training cohort
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with step("rad-score (LASSO)"):
        meta = cases.set_index("patient_id").loc[features.index]
        train = (meta["cohort"] == "train").to_numpy()
        # liblinear over the suite's C grid (10^-3 .. 10^0.5): sklearn's default grid reaches
        # C = 10^4, where nearly every feature stays in and liblinear crawls (over 10 min)
        model = make_pipeline(StandardScaler(), LogisticRegressionCV(
            Cs=np.logspace(-3.0, 0.5, 12), cv=5, l1_ratios=[1.0], solver="liblinear",
            max_iter=5000, scoring="roc_auc"))
        model.fit(features[train], meta["lnm"][train].astype(int))
        score = pd.Series(model.decision_function(features), index=features.index)
        for cohort in ("train", "internal", "external"):
            part = (meta["cohort"] == cohort).to_numpy()
            print(f"# AUC {cohort}: {roc_auc_score(meta['lnm'][part].astype(int), score[part]):.3f}")

    # 3. the GDC counts as one matrix, high vs low rad-score
    with step("read GDC counts"):
        sheet = pd.read_csv(world / "gdc" / "gdc_sample_sheet.tsv", sep="\t")
        sheet = sheet[sheet["Sample ID"].str.endswith("01A")].drop_duplicates("Case ID")
        counts = {}
        for rec in sheet.itertuples():
            table = pd.read_csv(world / "gdc" / "counts" / rec[1] / rec[2], sep="\t",
                                comment="#", index_col=0)
            counts[rec[6]] = table.loc[~table.index.str.startswith("N_"), "unstranded"]
        counts = pd.DataFrame(counts).T
        linked = [p for p in counts.index if p in score.index]
        counts = counts.loc[linked]
        threshold = float(np.median(score[train]))
        groups = pd.DataFrame({"group": np.where(score[linked] >= threshold, "high", "low")},
                              index=linked)
        counts = counts.loc[:, (counts >= 10).sum(axis=0) >= min((groups["group"] == g).sum()
                                                                for g in ("high", "low"))]

    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    with step("PyDESeq2"):
        dds = DeseqDataSet(counts=counts, metadata=groups, design="~group",
                           inference=DefaultInference(n_cpus=1), quiet=True)
        dds.deseq2()
        stats = DeseqStats(dds, contrast=["group", "high", "low"],
                           inference=DefaultInference(n_cpus=1), quiet=True)
        stats.summary()
        results = stats.results_df
        print(f"# DE genes padj < 0.05: {int((results['padj'] < 0.05).sum())}")

    import gseapy

    with step("gseapy"):
        genes = pd.read_csv(next((world / "gdc" / "counts").rglob("*.tsv")), sep="\t",
                            comment="#", index_col=0)["gene_name"]
        ranking = results["stat"].dropna().rename(index=genes).groupby(level=0).mean()
        res = gseapy.prerank(rnk=ranking.sort_values(ascending=False),
                             gene_sets=str(world / "gene_sets" / "gene_sets.gmt"),
                             permutation_num=1000, seed=0, threads=1, outdir=None,
                             min_size=15, max_size=500, verbose=False)
        print(f"# gene sets FDR < 0.05: {int((res.res2d['FDR q-val'].astype(float) < 0.05).sum())}")

    import anndata as ad
    from scipy import sparse
    from sklearn.svm import NuSVR

    with step("nu-SVR deconvolution"):
        ref = ad.read_h5ad(world / "reference" / "reference.h5ad")
        x = sparse.csr_matrix(ref.X)
        types = ref.obs["cell_type"].astype(str).to_numpy()
        cpm = sparse.diags(1e6 / np.asarray(x.sum(axis=1)).ravel()) @ x
        profiles = pd.DataFrame({t: np.asarray(cpm[types == t].mean(axis=0)).ravel()
                                 for t in np.unique(types)}, index=ref.var_names)
        lfc = np.log2((profiles + 1).div(profiles.mean(axis=1) + 1, axis=0))
        markers = sorted({g for t in profiles.columns for g in lfc[t].nlargest(50).index})
        sig = profiles.loc[markers]
        bulk = counts.T
        bulk.index = bulk.index.str.split(".").str[0]
        if "gene_ids" in ref.var:  # the reference names genes by symbol; match by Ensembl ID
            sig.index = ref.var.loc[sig.index, "gene_ids"].astype(str).str.split(".").str[0]
        shared = [g for g in sig.index if g in bulk.index]
        s = sig.loc[shared].to_numpy()
        s = (s - s.mean()) / s.std()
        fractions = {}
        for sample in bulk.columns:
            m = bulk.loc[shared, sample].to_numpy(float)
            m = (m - m.mean()) / m.std()
            best = None
            for nu in (0.25, 0.5, 0.75):
                svr = NuSVR(nu=nu, kernel="linear").fit(s, m)
                w = np.maximum(svr.coef_.ravel(), 0)
                rmse = np.sqrt(np.mean((s @ w - m) ** 2))
                if best is None or rmse < best[0]:
                    best = (rmse, w / w.sum() if w.sum() else w)
            fractions[sample] = best[1]
        fractions = pd.DataFrame(fractions, index=sig.columns).T

    from lifelines import CoxPHFitter

    with step("lifelines Cox"):
        cdr = pd.read_csv(world / "gdc" / "TCGA-CDR-SupplementalTableS1.tsv", sep="\t")
        cdr = cdr.set_index("bcr_patient_barcode")
        data = pd.DataFrame({"rad_score": score[linked]}).join(cdr[["OS", "OS.time"]])
        data = data.dropna()
        cox = CoxPHFitter().fit(data, "OS.time", "OS")
        print(f"# OS HR per unit rad-score: {float(np.exp(cox.params_['rad_score'])):.3f}")

    TIMES["total"] = time.perf_counter() - start_all
    print(f"total\t{TIMES['total']:.2f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(TIMES, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
