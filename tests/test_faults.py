"""Faults: a run killed at any point resumes to the same tables; a full disk keeps the previous
artefact; the simulated patients' identifying DICOM values never reach an output."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_CONFIG, run_tables, write_config

from radiogenomics import _files
from radiogenomics._files import atomic_write_bytes, atomic_write_h5ad, atomic_write_tsv

STAGES = ("simulate", "extract", "habitats", "robustness", "model", "ingest", "link", "de",
          "gsea", "deconvolve", "survival", "report")


def _disk_full(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_keeps_the_previous_artefact(tmp_path: Path, monkeypatch) -> None:
    import anndata as ad
    import numpy as np

    table = tmp_path / "table.tsv"
    atomic_write_tsv(table, pd.DataFrame({"a": [1, 2]}))
    h5ad = tmp_path / "x.h5ad"
    atomic_write_h5ad(h5ad, ad.AnnData(np.ones((2, 2))))
    before = {p: p.read_bytes() for p in (table, h5ad)}
    # text writers: the disk fills while the temporary file is flushed to disk
    monkeypatch.setattr(_files.os, "fsync", _disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_tsv(table, pd.DataFrame({"a": [3, 4, 5]}))
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(tmp_path / "new.bin", b"x")
    monkeypatch.undo()

    # the HDF5 writer: half a file written, then the disk is full

    def half_then_full(self, filename, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        Path(filename).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device", str(filename))

    monkeypatch.setattr(ad.AnnData, "write_h5ad", half_then_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_h5ad(h5ad, ad.AnnData(np.zeros((3, 3))))
    assert {p: p.read_bytes() for p in (table, h5ad)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.tsv", "x.h5ad"]


def test_a_full_disk_during_a_command_is_a_clear_error(tmp_path: Path, monkeypatch,
                                                       capsys) -> None:
    from radiogenomics.cli import main

    original = pd.DataFrame.to_csv

    def full(self, path_or_buf=None, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if path_or_buf is None:
            return original(self, path_or_buf, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(path_or_buf))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code = main(["simulate", str(tmp_path / "world"), "--scale", "tiny"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "No space left on device" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # neither the world nor its temporary folder


def _running_stage(log: Path, offset: int) -> str | None:
    """The stage the current run last started (log lines after ``offset`` only)."""
    if not log.is_file():
        return None
    with open(log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")
    found = re.findall(r"stage (\w+): running", text)
    return found[-1] if found else None


@pytest.mark.slow
def test_killed_in_every_stage_the_run_resumes_to_identical_tables(tiny_run: Path,
                                                                   tmp_path: Path) -> None:
    """For each stage in turn: start ``run``, let it reach that stage, SIGKILL it (with its
    worker processes) at a random moment up to 1.5 s in, and start again. The run that finally
    completes writes the same tables as the uninterrupted run, byte for byte."""
    import random

    config = write_config(tmp_path / "tiny.yaml", TINY_CONFIG)
    run_dir = tmp_path / "runs" / "tiny"
    log = run_dir / "radiogenomics.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    rng = random.Random(11)
    killed: list[str] = []
    for target in STAGES:
        if (run_dir / target / "stage.json").exists():
            continue  # finished while an earlier kill was pending
        offset = log.stat().st_size if log.is_file() else 0
        proc = subprocess.Popen([sys.executable, "-m", "radiogenomics", "run", str(config)],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            if _running_stage(log, offset) == target:
                time.sleep(rng.uniform(0.0, 1.5))
                if proc.poll() is None:
                    killed.append(_running_stage(log, offset) or target)
                    os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        proc.wait(timeout=600)
    assert len(killed) >= 10, killed
    final = subprocess.run([sys.executable, "-m", "radiogenomics", "run", str(config)],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    assert list(run_dir.glob(".*.tmp-*")) == [] and list(run_dir.glob(".*.old-*")) == []
    expected = run_tables(tiny_run / "runs" / "tiny")
    got = run_tables(run_dir)
    assert sorted(got) == sorted(expected)
    different = [name for name in expected if got[name] != expected[name]]
    assert different == [], different


@pytest.mark.slow
def test_identifying_dicom_values_never_reach_an_output(tiny_run: Path) -> None:
    """The simulated DICOM headers carry names, MRNs, birth dates, institutions and accession
    numbers; none of them may appear in any file the run writes (its own copy of the world,
    the input, aside) or in the report."""
    import anndata as ad

    run_dir = tiny_run / "runs" / "tiny"
    phi = pd.read_csv(run_dir / "simulate" / "world" / "truth" / "phi.tsv", sep="\t", dtype=str)
    values = {v for col in phi.columns if col not in ("patient_id", "PatientSex")
              for v in phi[col].dropna() if len(v) >= 6}
    assert len(values) > 20
    outputs = [p for p in run_dir.rglob("*") if p.is_file()
               and not p.relative_to(run_dir).as_posix().startswith("simulate/world/")]
    outputs += [p for p in (tiny_run / "reports").rglob("*") if p.is_file()]
    # whole values only: a birth date such as 19640507 also occurs inside long decimals
    needle = re.compile(rb"(?<![A-Za-z0-9.])(" + b"|".join(
        re.escape(v.encode()) for value in values for v in (value, value.replace("^", " ")))
        + rb")(?![A-Za-z0-9])")
    hits = [(p.name, m.group(0)) for p in outputs if (m := needle.search(p.read_bytes()))]
    assert hits == []
    # strings inside HDF5 files can be compressed: read them back as text too
    for path in [p for p in outputs if p.suffix == ".h5ad"]:
        adata = ad.read_h5ad(path, backed="r")
        text = adata.obs.to_csv() + adata.var.to_csv() + repr(adata.uns)
        adata.file.close()
        assert not [v for v in values if v in text], path


@pytest.mark.slow
def test_pseudonymized_run_writes_no_patient_id(tiny_world: Path, tmp_path: Path) -> None:
    """``pseudonymize: true``: no imaging patient ID in any file of the run directory or the
    report; the key file (outside the run) maps each ID to the pseudonym the results use; a
    rerun with the same key is a no-op; the report cannot be rebuilt without the key."""
    import json

    from conftest import REPO, run_cli

    key = tmp_path / "private" / "keys.json"
    config = write_config(tmp_path / "p.yaml", f"""\
name: pseudo
run_dir: runs/pseudo
pseudonymize: true
pseudonym_file: {key}
simulate:
  path: {tiny_world}
extract:
  params: {REPO / "analyses" / "params" / "ct_fast.yaml"}
habitats:
  bootstrap: 5
robustness:
  patients: 8
model:
  folds: 3
  bootstrap: 50
deconvolve:
  benchmark_mixtures: 10
report:
  output: reports/pseudo/index.html
""")
    first = run_cli("run", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    cases = pd.read_csv(tiny_world / "imaging" / "cases.tsv", sep="\t", dtype=str)
    hospital = [p for p in cases["patient_id"] if not p.startswith("TCGA-")]
    assert len(hospital) > 50
    mapping = json.loads(key.read_text())["pseudonyms"]
    assert set(hospital) <= set(mapping)
    run_dir = tmp_path / "runs" / "pseudo"
    pred = pd.read_csv(run_dir / "model" / "predictions.tsv", sep="\t", index_col=0)
    assert {mapping[p] for p in hospital} <= set(pred.index)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    files += list((tmp_path / "reports").rglob("*.html"))
    needles = [p.encode() for p in hospital]
    leaks = [(f.relative_to(tmp_path).as_posix(), n.decode()) for f in files
             for n in needles if n in f.read_bytes() or n.decode() in f.name]
    assert leaks == []
    again = run_cli("run", str(config), cwd=tmp_path)
    assert again.returncode == 0 and "0 stage(s) ran" in again.stdout, again.stdout
    alone = run_cli("report", str(run_dir), "--out", str(tmp_path / "r.html"))
    assert alone.returncode == 2 and "pseudonymised" in alone.stderr
