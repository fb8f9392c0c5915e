"""Differential expression and enrichment: the wrappers equal PyDESeq2 and gseapy called
directly, planted genes and sets are found, permuted labels find nothing, bad input is refused."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radiogenomics.errors import UserError
from radiogenomics.expression.de import differential_expression, rank_association
from radiogenomics.expression.enrichment import enrichment, pathway_scores, ranking

N_SAMPLES, N_GENES, N_DE = 24, 200, 30


def counts_world(seed: int = 0, n: int = N_SAMPLES, genes: int = N_GENES, lfc: float = 1.5,
                 zeros: bool = False) -> tuple[ad.AnnData, np.ndarray]:
    """Negative-binomial counts with ``N_DE`` planted DE genes (half up, half down in 'high'),
    a batch covariate with its own effect, and a continuous score tracking the groups."""
    rng = np.random.default_rng(seed)
    group = np.array(["low", "high"] * (n // 2))
    batch = np.array(["b1"] * (n // 2) + ["b2"] * (n // 2))
    rng.shuffle(batch)
    mean = np.exp(rng.normal(5.0, 1.2, size=genes))
    beta = np.zeros(genes)
    beta[:N_DE // 2] = lfc
    beta[N_DE // 2:N_DE] = -lfc
    batch_eff = rng.normal(0, 0.4, size=genes)
    size = np.exp(rng.normal(0, 0.2, size=n))
    mu = (size[:, None] * mean[None, :] * 2.0 ** (np.outer(group == "high", beta))
          * np.exp(np.outer(batch == "b2", batch_eff)))
    disp = 0.1
    counts = rng.poisson(rng.gamma(1 / disp, mu * disp)).astype(np.int64)
    if zeros:
        counts[rng.integers(0, n, size=genes), np.arange(genes)] = 0
    names = [f"G{i:04d}" for i in range(genes)]
    score = (group == "high") * 1.0 + rng.normal(0, 0.5, size=n)
    obs = pd.DataFrame({"rad_group": pd.Categorical(group, categories=["low", "high"]),
                        "batch": batch, "rad_score": score},
                       index=[f"S{i:02d}" for i in range(n)])
    var = pd.DataFrame({"gene_name": [f"SYM{i}" for i in range(genes)]}, index=names)
    adata = ad.AnnData(X=np.log1p(counts).astype(np.float32), obs=obs, var=var)
    adata.layers["counts"] = counts.astype(np.int32)
    return adata, np.abs(beta) > 0


def direct_pydeseq2(adata: ad.AnnData, design: str, keep: np.ndarray | None = None,
                    size_factors: str = "ratio", shrink: bool = False) -> pd.DataFrame:
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    counts = pd.DataFrame(adata.layers["counts"], index=adata.obs_names, columns=adata.var_names)
    if keep is not None:
        counts = counts.loc[:, keep]
    meta = adata.obs[["rad_group", "batch"]].astype(str)
    meta["rad_group"] = pd.Categorical(meta["rad_group"], categories=["low", "high"])  # relevel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=counts, metadata=meta, design=design, n_cpus=1, quiet=True,
                           size_factors_fit_type=size_factors)
        dds.deseq2()
        ds = DeseqStats(dds, contrast=["rad_group", "high", "low"], n_cpus=1, quiet=True)
        ds.summary()
        if shrink:
            ds.lfc_shrink(coeff="rad_group[T.high]")
    return ds.results_df


COLS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


def test_results_equal_pydeseq2_called_directly() -> None:
    adata, _ = counts_world()
    differential_expression(adata, min_count=0, min_samples=1, n_cpus=1)
    ours = adata.uns["de"]["results"]
    direct = direct_pydeseq2(adata, "~rad_group")
    pd.testing.assert_frame_equal(ours[COLS], direct[COLS], check_names=False)
    assert ours.loc["G0000", "gene_name"] == "SYM0"
    assert adata.uns["de"]["params"]["design"] == "~rad_group"


def test_covariate_design_and_low_count_filter_match_direct() -> None:
    adata, _ = counts_world(seed=1)
    adata.layers["counts"][:, -10:] = 0  # ten genes no test could call
    differential_expression(adata, covariates=["batch"], n_cpus=1)
    ours = adata.uns["de"]["results"]
    counts = adata.layers["counts"]
    keep = (counts >= 10).sum(axis=0) >= 12  # DESeq2 vignette rule, smallest group = 12
    assert adata.uns["de"]["params"]["n_genes_filtered"] == int((~keep).sum()) >= 10
    direct = direct_pydeseq2(adata, "~batch + rad_group", keep=keep)
    pd.testing.assert_frame_equal(ours[COLS], direct[COLS], check_names=False)


def test_shrinkage_matches_direct_and_keeps_mle() -> None:
    adata, _ = counts_world(seed=2)
    differential_expression(adata, min_count=0, min_samples=1, shrink=True, n_cpus=1)
    ours = adata.uns["de"]["results"]
    direct = direct_pydeseq2(adata, "~rad_group", shrink=True)
    np.testing.assert_allclose(ours["log2FoldChange"], direct["log2FoldChange"], rtol=1e-6)
    plain = direct_pydeseq2(adata, "~rad_group")
    np.testing.assert_allclose(ours["log2FoldChange_mle"], plain["log2FoldChange"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["pvalue"], plain["pvalue"], rtol=1e-6)


def test_poscounts_when_every_gene_has_a_zero() -> None:
    adata, _ = counts_world(seed=3, zeros=True)
    differential_expression(adata, min_count=0, min_samples=1, n_cpus=1)
    assert adata.uns["de"]["params"]["size_factors"] == "poscounts"
    direct = direct_pydeseq2(adata, "~rad_group", size_factors="poscounts")
    pd.testing.assert_frame_equal(adata.uns["de"]["results"][COLS], direct[COLS],
                                  check_names=False)


def test_planted_genes_found_and_permuted_groups_find_nothing() -> None:
    adata, planted = counts_world(seed=4, n=40)
    differential_expression(adata, n_cpus=1)
    res = adata.uns["de"]["results"]
    sig = (res["padj"] < 0.05).reindex(adata.var_names, fill_value=False).to_numpy()
    assert (sig & planted).sum() / sig.sum() >= 0.9  # precision
    assert (sig & planted).sum() / planted.sum() >= 0.9  # recall
    null, _ = counts_world(seed=4, n=40)
    null.obs["rad_group"] = pd.Categorical(
        np.random.default_rng(0).permutation(null.obs["rad_group"].astype(str).to_numpy()),
        categories=["low", "high"])
    differential_expression(null, n_cpus=1)
    assert (null.uns["de"]["results"]["padj"] < 0.05).mean() < 0.01


def test_vst_layer_equals_pydeseq2_vst_and_rank_association_equals_scipy() -> None:
    from pydeseq2.dds import DeseqDataSet

    adata, _ = counts_world(seed=5)
    adata.obs.loc["S03", "rad_group"] = np.nan  # left out of DE
    differential_expression(adata, min_count=0, min_samples=1, n_cpus=1)
    vst = adata.layers["vst"]
    assert np.isnan(vst[adata.obs_names.get_loc("S03")]).all()
    keep = adata.obs["rad_group"].notna().to_numpy()
    meta = adata.obs.loc[keep, ["rad_group"]].astype(str)
    meta["rad_group"] = pd.Categorical(meta["rad_group"], categories=["low", "high"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=pd.DataFrame(adata.layers["counts"][keep],
                                               index=adata.obs_names[keep],
                                               columns=adata.var_names),
                           metadata=meta, design="~rad_group", n_cpus=1, quiet=True)
        dds.deseq2()
        dds.vst(use_design=True)
    np.testing.assert_allclose(vst[keep], dds.layers["vst_counts"], rtol=1e-5)
    used = ~np.isnan(vst).all(axis=1)
    genes = adata.uns["de"]["association"].index
    cols = adata.var_names.get_indexer(genes)
    x = vst[np.ix_(used, cols)]
    score = adata.obs["rad_score"].to_numpy()[used]
    assoc = adata.uns["de"]["association"]
    for j in (0, 7, 150):
        rho, p = stats.spearmanr(x[:, j], score)
        assert assoc["rho"].iloc[j] == pytest.approx(rho, abs=1e-12)
        assert assoc["pvalue"].iloc[j] == pytest.approx(p, rel=1e-8)
    from statsmodels.stats.multitest import multipletests

    np.testing.assert_allclose(assoc["padj"], multipletests(assoc["pvalue"], method="fdr_bh")[1])
    # ties in the score: average ranks, as scipy
    tied = rank_association(np.arange(12, dtype=float).reshape(6, 2), np.array([1, 1, 2, 3, 3, 4.0]))
    assert tied["rho"].iloc[0] == pytest.approx(stats.spearmanr(np.arange(0, 12, 2),
                                                                [1, 1, 2, 3, 3, 4]).statistic)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a.layers.__setitem__("counts", a.layers["counts"] - 50), "negative count"),
        (lambda a: a.layers.__setitem__("counts", a.layers["counts"] + 0.5), "not a whole number"),
        (lambda a: a.obs.drop(columns="rad_group", inplace=True), "'rad_group' is not in"),
        (lambda a: a.obs.__setitem__("rad_group", "low"), "reference level 'low'"),
        (lambda a: a.obs.__setitem__("batch", "b1"), "single value"),
    ],
)
def test_bad_input_named(mutate, message: str) -> None:
    adata, _ = counts_world(seed=6)
    if message == "reference level 'low'":
        adata.obs["rad_group"] = "mid"
    else:
        mutate(adata)
    with pytest.raises(UserError, match=message):
        differential_expression(adata, covariates=["batch"], n_cpus=1)


def test_one_sample_group_refused() -> None:
    adata, _ = counts_world(seed=6)
    adata.obs["rad_group"] = pd.Categorical(["high"] + ["low"] * (N_SAMPLES - 1))
    with pytest.raises(UserError, match="at least two samples"):
        differential_expression(adata, n_cpus=1)


# ---- enrichment ------------------------------------------------------------------------------

def planted_sets(adata: ad.AnnData) -> dict[str, list[str]]:
    sym = adata.var["gene_name"].tolist()
    rng = np.random.default_rng(0)
    background = sym[N_DE:]
    sets = {"UP_SET": sym[:N_DE // 2], "DOWN_SET": sym[N_DE // 2:N_DE]}
    for k in range(6):
        sets[f"DECOY_{k}"] = list(rng.choice(background, size=20, replace=False))
    return sets


def test_gsea_prerank_equals_gseapy_prerank_and_finds_planted_sets() -> None:
    import gseapy

    adata, _ = counts_world(seed=7, n=40)
    differential_expression(adata, n_cpus=1)
    sets = planted_sets(adata)
    enrichment(adata, {"toy": sets}, permutation="gene_set", permutations=200, seed=3,
               min_size=10, max_size=100)
    ours = adata.uns["gsea"]["results"].set_index("Term")
    rnk = adata.uns["de"]["results"].set_index("gene_name")["stat"].dropna().sort_values(
        ascending=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = gseapy.prerank(rnk=rnk, gene_sets=sets, permutation_num=200, seed=3, threads=1,
                                min_size=10, max_size=100, outdir=None, no_plot=True).res2d
    direct = direct.set_index("Term").loc[ours.index]
    for col in ("ES", "NES", "NOM p-val", "FDR q-val"):
        np.testing.assert_allclose(ours[col].astype(float), direct[col].astype(float), rtol=1e-12)
    assert (ours["Lead_genes"] == direct["Lead_genes"]).all()
    assert ours.loc["UP_SET", "NES"] > 0 and ours.loc["UP_SET", "FDR q-val"] < 0.05
    assert ours.loc["DOWN_SET", "NES"] < 0 and ours.loc["DOWN_SET", "FDR q-val"] < 0.05
    decoys = ours.loc[[t for t in ours.index if t.startswith("DECOY")]]
    assert (decoys["FDR q-val"] >= 0.25).mean() >= 0.8
    running = adata.uns["gsea"]["running"]["UP_SET"]
    assert running["running_es"].max() == pytest.approx(ours.loc["UP_SET", "ES"])
    assert running["hit"].sum() == len(set(sets["UP_SET"]) & set(rnk.index))


def test_gsea_phenotype_permutation_equals_gseapy_gsea() -> None:
    import gseapy

    adata, _ = counts_world(seed=7, n=40)
    differential_expression(adata, n_cpus=1)
    sets = planted_sets(adata)
    enrichment(adata, {"toy": sets}, permutations=100, seed=5, min_size=10, max_size=100)
    ours = adata.uns["gsea"]["results"].set_index("Term")
    used = np.isfinite(adata.layers["vst"]).any(axis=1)
    cols = np.isfinite(adata.layers["vst"][used]).all(axis=0)
    groups = adata.obs["rad_group"].astype(str).to_numpy()[used]
    order = np.concatenate([np.flatnonzero(groups == "high"), np.flatnonzero(groups == "low")])
    data = pd.DataFrame(adata.layers["vst"][used][:, cols][order].T.astype(float),
                        index=adata.var["gene_name"].to_numpy()[cols],
                        columns=adata.obs_names[used][order])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = gseapy.gsea(data=data, gene_sets=sets, cls=list(groups[order]),
                             permutation_type="phenotype", method="t_test", permutation_num=100,
                             seed=5, threads=1, min_size=10, max_size=100, outdir=None,
                             no_plot=True).res2d.set_index("Term").loc[ours.index]
    for col in ("ES", "NES", "NOM p-val", "FDR q-val"):
        np.testing.assert_allclose(ours[col].astype(float), direct[col].astype(float), rtol=1e-12)
    assert ours.loc["UP_SET", "NES"] > 0 and ours.loc["UP_SET", "FDR q-val"] < 0.05
    assert ours.loc["DOWN_SET", "NES"] < 0 and ours.loc["DOWN_SET", "FDR q-val"] < 0.05


def test_gsea_without_group_effect_finds_no_set_even_when_genes_move_together() -> None:
    """Signal removed: no group effect, but 30 genes share a strong sample factor (as a pathway
    does). Phenotype permutation keeps that correlation in its null and finds nothing."""
    adata, _ = counts_world(seed=7, n=40, lfc=0.0)
    rng = np.random.default_rng(11)
    factor = np.exp(np.outer(rng.normal(0, 0.8, size=adata.n_obs), np.ones(30)))
    counts = adata.layers["counts"].astype(float)
    counts[:, :30] = rng.poisson(counts[:, :30] * factor)
    adata.layers["counts"] = counts.astype(np.int32)
    differential_expression(adata, n_cpus=1)
    enrichment(adata, {"toy": planted_sets(adata)}, permutations=200, seed=3, min_size=10)
    assert (adata.uns["gsea"]["results"]["FDR q-val"] >= 0.05).all()


def test_ranking_collapses_duplicate_symbols_by_largest_statistic() -> None:
    res = pd.DataFrame({"gene_name": ["A", "A", "B", "C"], "stat": [1.0, -3.0, 2.0, np.nan]},
                       index=["g1", "g2", "g3", "g4"])
    rnk = ranking(res)
    assert rnk.to_dict() == {"B": 2.0, "A": -3.0}


def test_pathway_scores_equal_gseapy_ssgsea() -> None:
    import gseapy

    adata, _ = counts_world(seed=8, n=30)
    differential_expression(adata, n_cpus=1)
    sets = planted_sets(adata)
    pathway_scores(adata, sets, method="ssgsea", min_size=10)
    scores = adata.obsm["pathway_scores"]
    used = np.isfinite(adata.layers["vst"]).any(axis=1)
    cols = np.isfinite(adata.layers["vst"][used]).all(axis=0)
    data = pd.DataFrame(adata.layers["vst"][np.ix_(used, cols)].T,
                        index=adata.var["gene_name"].to_numpy()[cols],
                        columns=adata.obs_names[used])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = gseapy.ssgsea(data=data, gene_sets=sets, outdir=None, min_size=10, threads=1,
                               sample_norm_method="rank", permutation_num=0, no_plot=True).res2d
    wide = direct.pivot(index="Name", columns="Term", values="NES").astype(float)
    np.testing.assert_allclose(scores.loc[wide.index, wide.columns], wide, rtol=1e-10)
    assoc = adata.uns["pathway_scores"]["association"]
    assert assoc.loc["UP_SET", "rho"] > 0.5 and assoc.loc["DOWN_SET", "rho"] < -0.5


def test_zscore_pathway_scores_by_hand_and_decoys_flat() -> None:
    adata, _ = counts_world(seed=8, n=40)
    differential_expression(adata, n_cpus=1)
    sets = planted_sets(adata)
    pathway_scores(adata, sets, min_size=10)
    scores = adata.obsm["pathway_scores"]
    used = np.isfinite(adata.layers["vst"]).any(axis=1)
    vst = pd.DataFrame(adata.layers["vst"][used].astype(float), index=adata.obs_names[used],
                       columns=adata.var["gene_name"])
    members = vst[sets["UP_SET"]]
    z = (members - members.mean()) / members.std(ddof=1)
    np.testing.assert_allclose(scores.loc[used, "UP_SET"], z.sum(axis=1) / np.sqrt(z.shape[1]))
    assoc = adata.uns["pathway_scores"]["association"]
    assert assoc.loc["UP_SET", "rho"] > 0.5 and assoc.loc["DOWN_SET", "rho"] < -0.5
    decoys = assoc.loc[[k for k in assoc.index if k.startswith("DECOY")]]
    assert (decoys["padj"] >= 0.05).all()


def test_gene_set_names_unique_across_collections() -> None:
    adata, _ = counts_world(seed=9)
    differential_expression(adata, n_cpus=1)
    with pytest.raises(UserError, match="occurs in collections"):
        enrichment(adata, {"a": {"S": ["SYM1"]}, "b": {"S": ["SYM2"]}})


@pytest.mark.slow
def test_de_and_gsea_stages_recover_the_tiny_worlds_truth(tiny_run) -> None:
    """The tiny world links only ~14 tumours, so recall is low; what is called must be right,
    and every planted programme must be enriched with its planted sign (at GSEA's customary
    FDR < 0.25: sample-label permutations of 8 vs 6 tumours have little power; the demo world's
    FDR < 0.05 is measured by benchmarks/de_truth.py)."""
    from radiogenomics.simulate.stage import world_dir

    run_dir = tiny_run / "runs" / "tiny"
    root = world_dir(run_dir / "simulate")
    res = pd.read_csv(run_dir / "de" / "results.tsv", sep="\t", index_col=0)
    truth = pd.read_csv(root / "truth" / "de_genes.tsv", sep="\t", index_col=0)
    res = res.join(truth[["true_log2FC", "de"]])
    called = res[res["padj"] < 0.05]
    assert len(called) >= 10
    right = called["de"] & (np.sign(called["true_log2FC"]) == np.sign(called["log2FoldChange"]))
    assert right.mean() >= 0.9
    sets = pd.read_csv(root / "truth" / "gene_sets.tsv", sep="\t", index_col=0)
    gsea = pd.read_csv(run_dir / "gsea" / "gsea.tsv", sep="\t", index_col="Term")
    table = sets.join(gsea[["NES", "FDR q-val"]], how="left")
    planted = table[table["direction"] != "none"]
    assert (planted["FDR q-val"] < 0.25).all()
    assert (np.sign(planted["NES"]) == np.sign(planted["log_effect_per_sd"])).all()
    decoys = table[table["direction"] == "none"]
    assert (decoys["FDR q-val"] >= 0.25).mean() >= 0.9
    scores = pd.read_csv(run_dir / "gsea" / "pathway_scores.tsv", sep="\t", index_col=0)
    assert set(planted.index) <= set(scores.columns)
    html = (tiny_run / "reports" / "tiny" / "index.html").read_text(encoding="utf-8")
    assert 'id="de"' in html and 'id="gsea"' in html and "de_volcano" in html
