"""Linking the rad-score to the transcriptomes: the join, the groups, the unmatched lists."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from radiogenomics.expression.link_stage import link_radscore


def _bulk(patients: list[str]) -> ad.AnnData:
    obs = pd.DataFrame({"patient": patients},
                       index=[f"{p}-01A-11R-2000-07" for p in patients])
    return ad.AnnData(X=np.zeros((len(patients), 2)), obs=obs)


def test_join_groups_and_unmatched_on_both_sides():
    bulk = _bulk(["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003", "TCGA-AA-0004"])
    preds = pd.DataFrame({"rad_score": [-1.0, 0.5, 2.0, 0.0],
                          "radscore_prob": [0.27, 0.62, 0.88, 0.5]},
                         index=["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003", "TCGA-AA-0009"])
    unmatched = link_radscore(bulk, preds, threshold=0.6)
    assert bulk.obs["rad_group"].astype(str).tolist() == ["low", "high", "high", "nan"]
    assert bulk.obs["rad_score"].tolist()[:3] == [-1.0, 0.5, 2.0]
    assert np.isnan(bulk.obs["rad_score"].iloc[3])
    assert unmatched.to_dict("list") == {"patient": ["TCGA-AA-0009", "TCGA-AA-0004"],
                                         "side": ["ct_only", "rna_only"]}
    assert bulk.uns["link"]["n_matched"] == 3
    link_radscore(bulk, preds, threshold=0.6, grouping="median")
    assert bulk.obs["rad_group"].astype(str).tolist() == ["low", "low", "high", "nan"]
    with pytest.raises(ValueError, match="appears twice"):
        link_radscore(bulk, pd.concat([preds, preds.head(1)]), threshold=0.5)


@pytest.mark.slow
def test_link_stage_matches_the_planted_patients(tiny_run: Path):
    from radiogenomics.simulate.stage import world_dir

    run_dir = tiny_run / "runs" / "tiny"
    root = world_dir(run_dir / "simulate")
    summary = json.loads((root / "truth" / "summary.json").read_text())
    failures = pd.read_csv(run_dir / "extract" / "failures.tsv", sep="\t", dtype=str)
    failed_tcga = failures["patient_id"].str.startswith("TCGA-").sum() if len(failures) else 0
    bulk = ad.read_h5ad(run_dir / "link" / "bulk.h5ad")
    assert bulk.uns["link"]["n_matched"] == summary["n_transcriptome_with_ct"] - failed_tcga
    imaging = pd.read_csv(root / "truth" / "imaging.tsv", sep="\t")
    with_ct = set(imaging.loc[imaging["cohort"] == "transcriptome", "patient_id"])
    linked = set(bulk.obs.loc[bulk.obs["rad_group"].notna(), "patient"])
    assert linked <= with_ct
    unmatched = pd.read_csv(run_dir / "link" / "unmatched.tsv", sep="\t")
    assert set(unmatched.loc[unmatched["side"] == "rna_only", "patient"]) == (
        set(bulk.obs["patient"]) - linked)
