"""The analyses folder: the real-data config is valid, and the public-API scripts work on a
finished run (checked against the run's own tables and scipy)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from scipy import stats

from radiogenomics.config import load_config


def test_tcga_hnsc_config_is_valid_once_its_files_exist(tmp_path: Path) -> None:
    (tmp_path / "analyses" / "params").mkdir(parents=True)
    shutil.copy(REPO / "analyses" / "tcga_hnsc.yaml", tmp_path / "analyses")
    shutil.copy(REPO / "analyses" / "params" / "ct.yaml", tmp_path / "analyses" / "params")
    (tmp_path / "data" / "gdc").mkdir(parents=True)
    for rel in ("imaging/cases.tsv", "gene_sets/h.all.symbols.gmt",
                "reference/hnscc_reference.h5ad"):
        (tmp_path / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / rel).write_text("", encoding="utf-8")
    cfg = load_config(tmp_path / "analyses" / "tcga_hnsc.yaml")
    assert not cfg.simulate.enabled and cfg.pseudonymize
    assert cfg.extract.cases == (tmp_path / "data" / "imaging" / "cases.tsv").resolve()
    assert cfg.ingest.gdc_dir == (tmp_path / "data" / "gdc").resolve()
    assert not cfg.resolved_pseudonym_file().is_relative_to(cfg.resolved_run_dir())


def _script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "analyses" / name), *args], cwd=cwd,
                          capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_habitats_vs_cd8_script(tiny_run: Path, tmp_path: Path) -> None:
    run = tiny_run / "runs" / "tiny"
    result = _script("habitats_vs_cd8.py", str(run), "--out", str(tmp_path / "f.html"),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "f.html").stat().st_size > 1e5
    printed = {line.split()[0]: float(line.split()[1]) for line in result.stdout.splitlines()
               if line.strip().startswith("H")}
    # independently: join the stage tables by hand
    habitats = pd.read_csv(run / "habitats" / "habitats.tsv", sep="\t").set_index("patient_id")
    fractions = pd.read_csv(run / "deconvolve" / "fractions.tsv", sep="\t").set_index("sample")
    linked = pd.read_csv(run / "link" / "linked.tsv", sep="\t")
    cd8 = fractions.loc[linked["barcode"], "CD8 T"].to_numpy()
    assert len(printed) == sum(c.startswith("fraction_H") for c in habitats.columns)
    for h, rho in printed.items():
        expected = stats.spearmanr(habitats.loc[linked["patient"], f"fraction_{h}"], cd8).statistic
        assert rho == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
def test_score_new_patients_script(tiny_run: Path, tmp_path: Path) -> None:
    run = tiny_run / "runs" / "tiny"
    world = run / "simulate" / "world" / "imaging"
    cases = pd.read_csv(world / "cases.tsv", sep="\t", dtype=str)
    picked = cases[cases["cohort"] == "external"].head(3).copy()
    for col in ("image", "mask"):
        picked[col] = [str(world / p) for p in picked[col]]
    picked.to_csv(tmp_path / "new.tsv", sep="\t", index=False)
    result = _script("score_new_patients.py", str(run), str(tmp_path / "new.tsv"), "--out",
                     str(tmp_path / "scores.tsv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.tsv", sep="\t", index_col=0)
    pred = pd.read_csv(run / "model" / "predictions.tsv", sep="\t", index_col=0)
    # the saved model on the same images gives the external cohort's recorded scores
    for pid in picked["patient_id"]:
        assert scores.loc[pid, "rad_score"] == pytest.approx(pred.loc[pid, "rad_score"], abs=1e-9)
