"""Deconvolution: signature markers against the planted ones, methods against scipy/sklearn and
hand-worked mixtures, planted fractions recovered, a null with no group difference, the
pseudo-bulk benchmark, and clear errors for bad references."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import nnls

from radiogenomics.deconvolution import (
    build_signature,
    bulk_cpm,
    cibersort,
    deconvolve,
    deconvolve_adata,
    nnls_fractions,
    wnnls_fractions,
)
from radiogenomics.deconvolution.benchmark import lins_ccc, mixture_fractions, pseudobulk_benchmark
from radiogenomics.deconvolution.stage import group_tests
from radiogenomics.errors import UserError


@pytest.fixture(scope="module")
def reference(tiny_world) -> ad.AnnData:
    return ad.read_h5ad(tiny_world / "reference" / "reference.h5ad")


@pytest.fixture(scope="module")
def signature(reference):
    return build_signature(reference)


def test_signature_markers_are_the_planted_markers(tiny_world, signature) -> None:
    from radiogenomics.simulate.genes import MRNA_CONTENT

    truth = pd.read_csv(tiny_world / "truth" / "de_genes.tsv", sep="\t")
    planted = truth.set_index("gene_id")["planted"]
    ids = signature.gene_ids
    markers = signature.markers
    right = planted.reindex(ids.loc[markers["gene"]].to_numpy()).to_numpy() == (
        "marker:" + markers["cell_type"]).to_numpy()
    # the tiny reference has ~30 cells of its rarest types over 4 donors, so a few noisy genes
    # pass there (the demo reference's markers are 99% planted ones, every type ≥ 96%)
    assert right.mean() >= 0.9
    assert pd.Series(right).groupby(markers["cell_type"].to_numpy()).mean().min() >= 0.6
    content = pd.Series(MRNA_CONTENT)[signature.cell_types]
    assert np.corrcoef(content, signature.mrna_content[signature.cell_types])[0, 1] > 0.95
    assert signature.condition_number < 100


def test_nnls_equals_scipy_and_noiseless_mixtures_are_exact() -> None:
    rng = np.random.default_rng(0)
    s = rng.gamma(1.0, 50.0, size=(60, 4))
    w = rng.dirichlet(np.ones(4), size=5)
    m = w @ s.T
    got = nnls_fractions(s, m + rng.normal(0, 1, size=m.shape))
    for i in range(5):
        np.testing.assert_allclose(got[i], nnls(s, m[i] + 0)[0], atol=0.2)
    np.testing.assert_allclose(nnls_fractions(s, m), w, atol=1e-9)
    np.testing.assert_allclose(wnnls_fractions(s, m), w, atol=1e-6)


def test_wnnls_beats_nnls_under_multiplicative_noise() -> None:
    rng = np.random.default_rng(1)
    s = np.exp(rng.normal(2, 2, size=(300, 6)))
    w = rng.dirichlet(np.ones(6), size=80)
    m = (w @ s.T) * np.exp(rng.normal(0, 0.3, size=(80, 300)))
    err_w = np.abs(wnnls_fractions(s, m) / wnnls_fractions(s, m).sum(1, keepdims=True) - w).mean()
    plain = nnls_fractions(s, m)
    err_n = np.abs(plain / plain.sum(1, keepdims=True) - w).mean()
    assert err_w < err_n


def test_cibersort_hand_worked_example_and_nu_choice() -> None:
    """Three types, twelve gene patterns (each five times: with fewer genes the SVR's penalty
    outweighs the fit and CIBERSORT does not recover proportions, 0.80/0.20/0.00 with one
    copy): the mixture is exactly 0.6/0.3/0.1 of the columns. CIBERSORT z-scores the signature
    over the whole matrix and the mixture over its genes, so the normalised SVR weights recover
    the proportions; scaling either input changes nothing; the ν kept is the one whose
    reconstruction RMSE is lowest (sklearn's NuSVR called directly)."""
    from sklearn.svm import NuSVR

    s = np.tile(np.array([[10, 1, 1], [8, 2, 1], [9, 1, 2], [1, 10, 1], [2, 9, 1], [1, 8, 2],
                          [1, 1, 10], [2, 1, 9], [1, 2, 8], [5, 5, 1], [1, 5, 5], [5, 1, 5]],
                         float), (5, 1))
    w = np.array([0.6, 0.3, 0.1])
    m = (s @ w)[None, :]
    res = cibersort(s, m)
    got = res[["t0", "t1", "t2"]].to_numpy()[0]
    np.testing.assert_allclose(got, w, atol=0.002)
    scaled = cibersort(s * 7.0, m * 1000.0)
    np.testing.assert_allclose(scaled[["t0", "t1", "t2"]].to_numpy()[0], got, atol=1e-6)
    sz = (s - s.mean()) / s.std(ddof=1)
    y = (m[0] - m[0].mean()) / m[0].std(ddof=1)
    rmses = {}
    for nu in (0.25, 0.5, 0.75):
        coef = NuSVR(kernel="linear", nu=nu, C=1.0).fit(sz, y).coef_.ravel()
        coef = np.clip(coef, 0, None) / np.clip(coef, 0, None).sum()
        rmses[nu] = np.sqrt(np.mean((sz @ coef - y) ** 2))
    assert res["nu"].iloc[0] == min(rmses, key=rmses.get)


def test_cibersort_permutation_p_small_for_a_real_mixture() -> None:
    rng = np.random.default_rng(2)
    s = rng.gamma(1.0, 30.0, size=(40, 3))
    m = np.vstack([s @ np.array([0.5, 0.3, 0.2]), rng.permutation(s @ np.array([0.2, 0.2, 0.6]))])
    res = cibersort(s, m, permutations=50, seed=0)
    assert res["p"].iloc[0] < 0.05 and res["r"].iloc[0] > res["r"].iloc[1]


def test_planted_fractions_recovered_from_the_tiny_bulk(tiny_world, signature) -> None:
    from radiogenomics.io import read_gdc_expression

    gdc = tiny_world / "gdc"
    bulk = read_gdc_expression(gdc / "counts", gdc / "gdc_sample_sheet.tsv")
    deconvolve_adata(bulk, signature)
    est = bulk.obsm["cell_fractions"]
    truth = pd.read_csv(tiny_world / "truth" / "cell_fractions.tsv", sep="\t",
                        index_col="aliquot").loc[est.index, est.columns]
    r = [np.corrcoef(est[c], truth[c])[0, 1] for c in est.columns]
    rmse = np.sqrt(((est - truth) ** 2).mean()).mean()
    assert np.mean(r) >= 0.9 and rmse <= 0.05
    np.testing.assert_allclose(est.sum(axis=1), 1.0)
    assert (est >= 0).all().all()


def _pseudobulk(reference: ad.AnnData, fractions: pd.DataFrame, rng) -> pd.DataFrame:
    types = reference.obs["cell_type"].astype(str).to_numpy()
    rows = []
    for _, f in fractions.iterrows():
        n = np.round(f.to_numpy() * 300).astype(int)
        idx = np.concatenate([rng.choice(np.flatnonzero(types == t), size=k)
                              for t, k in zip(fractions.columns, n, strict=True) if k > 0])
        rows.append(np.asarray(reference.X[idx].sum(axis=0)).ravel())
    x = np.vstack(rows)
    return pd.DataFrame(x / x.sum(1, keepdims=True) * 1e6, columns=reference.var_names)


def test_null_no_group_difference_and_planted_difference_found(reference, signature) -> None:
    rng = np.random.default_rng(3)
    types = signature.cell_types
    fr = mixture_fractions(types, 60, rng, dominant="malignant", rare=["mast", "dendritic"])
    groups = pd.Series(np.where(rng.random(60) < 0.5, "high", "low"))
    est, _ = deconvolve(_pseudobulk(reference, fr, rng), signature)
    null = group_tests(est.reset_index(drop=True), groups)
    assert (null["padj"] >= 0.05).all()
    shifted = fr.copy()
    high = (groups == "high").to_numpy()
    shifted.loc[high, "CD8 T"] += 0.15
    shifted = shifted.div(shifted.sum(axis=1), axis=0)
    est2, _ = deconvolve(_pseudobulk(reference, shifted, rng), signature)
    found = group_tests(est2.reset_index(drop=True), groups).set_index("cell_type")
    assert found.loc["CD8 T", "padj"] < 0.05 and found.loc["CD8 T", "log2_ratio_of_medians"] > 0


def test_benchmark_on_the_tiny_reference(reference) -> None:
    per_type, summary = pseudobulk_benchmark(reference, methods=["wnnls", "nnls"], n_mixtures=40,
                                             n_boot=50)
    s = summary.set_index(["scenario", "method"])
    assert s.loc[("standard", "wnnls"), "mean_r"] >= 0.9
    assert s.loc[("platform_bias", "wnnls"), "mean_r"] >= 0.8
    assert s.loc[("missing_type", "wnnls"), "missing_type"] not in set(
        per_type[per_type["scenario"] == "missing_type"]["cell_type"])
    row = per_type.iloc[0]
    assert row["r_low"] <= row["r"] <= row["r_high"]


def test_lins_ccc_by_hand() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([1.5, 2.0, 3.5, 3.0])
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    assert lins_ccc(x, y) == pytest.approx(2 * sxy / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))
    assert lins_ccc(x, x) == pytest.approx(1.0)


def test_bad_references_refused(reference) -> None:
    no_type = reference.copy()
    del no_type.obs["cell_type"]
    with pytest.raises(UserError, match="no column 'cell_type'"):
        build_signature(no_type)
    scaled = reference.copy()
    scaled.X = scaled.X * 0.5
    with pytest.raises(UserError, match="raw counts"):
        build_signature(scaled)
    import scanpy as sc

    pbmc = sc.datasets.pbmc68k_reduced()  # log-normalised, as shipped
    with pytest.raises(UserError):
        build_signature(pbmc, cell_type_key="bulk_labels", donor_key=None)


def test_too_few_shared_genes_named(signature) -> None:
    bulk = ad.AnnData(X=np.ones((3, 5), dtype=np.float32),
                      var=pd.DataFrame(index=[f"ENSG{i:011d}" for i in range(5)]))
    bulk.layers["counts"] = np.ones((3, 5), dtype=np.int32)
    with pytest.raises(UserError, match="same gene identifiers"):
        deconvolve(bulk_cpm(bulk), signature)


@pytest.mark.slow
def test_deconvolve_stage_in_the_tiny_run(tiny_run) -> None:
    stage = tiny_run / "runs" / "tiny" / "deconvolve"
    fr = pd.read_csv(stage / "fractions.tsv", sep="\t", index_col=0)
    assert np.allclose(fr.drop(columns=["patient", "rad_score", "rad_group"]).sum(axis=1), 1.0)
    assert (stage / "benchmark_summary.tsv").is_file() and (stage / "umap.tsv").is_file()
    html = (tiny_run / "reports" / "tiny" / "index.html").read_text(encoding="utf-8")
    assert 'id="deconvolve"' in html and "cell_fractions_by_group" in html


def test_benchmark_cli(tiny_world, tmp_path) -> None:
    from conftest import run_cli

    res = run_cli("deconvolution-benchmark", "--reference",
                  str(tiny_world / "reference" / "reference.h5ad"), "--methods", "wnnls",
                  "--mixtures", "20", "--out", str(tmp_path / "b"))
    assert res.returncode == 0, res.stderr
    summary = pd.read_csv(tmp_path / "b" / "benchmark_summary.tsv", sep="\t")
    assert set(summary["scenario"]) == {"standard", "missing_type", "platform_bias"}
    bad = run_cli("deconvolution-benchmark")
    assert bad.returncode == 2 and "exactly one of" in bad.stderr and "Traceback" not in bad.stderr
