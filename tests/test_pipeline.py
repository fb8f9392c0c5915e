"""The stage runner: skipping, invalidation, forcing, status, atomicity, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pipeline_stages as ps
import pytest
from conftest import TINY_CONFIG, run_cli

from radiogenomics._files import atomic_write_bytes, file_md5
from radiogenomics.config import AnalysisConfig
from radiogenomics.errors import UserError
from radiogenomics.pipeline import STAGES, Stage, run, stage_states


def _cfg(**sections) -> AnalysisConfig:
    return AnalysisConfig(name="t", **sections)


def _run(cfg: AnalysisConfig, run_dir: Path, **kw) -> dict[str, str]:
    ps.CALLS.clear()
    return run(cfg, run_dir=run_dir, stages=ps.GRAPH, **kw)


def test_second_run_skips_every_stage(tmp_path: Path) -> None:
    cfg = _cfg()
    first = _run(cfg, tmp_path)
    assert set(first.values()) == {"ran"}
    second = _run(cfg, tmp_path)
    assert set(second.values()) == {"skipped"}
    assert ps.CALLS == []
    record = json.loads((tmp_path / "draw" / "stage.json").read_text())
    assert record["outputs"]["draws.tsv"] == file_md5(tmp_path / "draw" / "draws.tsv")
    assert record["params"] == {"simulate": cfg.model_dump(mode="json")["simulate"]}
    assert {"python", "radiogenomics", "numpy"} <= set(record["versions"])
    assert record["wall_time_s"] >= 0


def test_changed_parameter_reruns_that_stage_and_descendants_only(tmp_path: Path) -> None:
    _run(_cfg(), tmp_path)
    outcome = _run(_cfg(report={"title": "another title"}), tmp_path)
    assert outcome == {"draw": "skipped", "summarise": "ran", "final": "ran",
                       "independent": "skipped"}
    assert "ANOTHER TITLE" in (tmp_path / "final" / "final.txt").read_text()


def test_upstream_rerun_with_identical_output_does_not_cascade(tmp_path: Path) -> None:
    _run(_cfg(), tmp_path)
    outcome = _run(_cfg(), tmp_path, force=["draw"])
    # draw reran, but produced byte-identical output: its fingerprint is unchanged
    assert outcome["draw"] == "ran"
    assert outcome["summarise"] == "ran"  # forced as a descendant of draw
    outcome = _run(_cfg(), tmp_path)
    assert set(outcome.values()) == {"skipped"}


def test_force_reruns_stage_and_downstream(tmp_path: Path) -> None:
    _run(_cfg(), tmp_path)
    outcome = _run(_cfg(), tmp_path, force=["summarise"])
    assert outcome == {"draw": "skipped", "summarise": "ran", "final": "ran",
                       "independent": "skipped"}
    with pytest.raises(UserError, match="unknown stage 'nope'"):
        _run(_cfg(), tmp_path, force=["nope"])


def test_status_done_stale_missing(tmp_path: Path) -> None:
    cfg = _cfg()
    assert set(stage_states(cfg, tmp_path, ps.GRAPH).values()) == {"missing"}
    _run(cfg, tmp_path, until="summarise")
    states = stage_states(cfg, tmp_path, ps.GRAPH)
    assert states == {"draw": "done", "summarise": "done", "final": "missing",
                      "independent": "missing"}
    _run(cfg, tmp_path)
    changed = _cfg(simulate={"seed": 99})
    states = stage_states(changed, tmp_path, ps.GRAPH)
    assert states == {"draw": "stale", "summarise": "stale", "final": "stale",
                      "independent": "done"}


def test_deleted_output_makes_stage_rerun(tmp_path: Path) -> None:
    _run(_cfg(), tmp_path)
    (tmp_path / "final" / "final.txt").unlink()
    assert _run(_cfg(), tmp_path)["final"] == "ran"


def test_failing_stage_leaves_nothing_under_its_name(tmp_path: Path) -> None:
    graph = (*ps.GRAPH[:1], Stage("broken", "pipeline_stages:broken", "fails", needs=("draw",)))
    _run(_cfg(), tmp_path)
    with pytest.raises(RuntimeError, match="fails half way"):
        run(_cfg(), run_dir=tmp_path, stages=graph)
    assert not (tmp_path / "broken").exists()
    assert not list(tmp_path.glob(".broken.tmp-*"))


def test_stage_that_forgets_an_output_fails(tmp_path: Path) -> None:
    graph = (Stage("forgetful", "pipeline_stages:forgetful", "x", outputs=("result.tsv",)),)
    with pytest.raises(RuntimeError, match=r"without writing \['result.tsv'\]"):
        run(_cfg(), run_dir=tmp_path, stages=graph)
    assert not (tmp_path / "forgetful").exists()


def test_failed_atomic_write_keeps_previous_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "table.tsv"
    atomic_write_bytes(target, b"old\n")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new and longer\n")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.tsv"]


def test_external_input_change_makes_stage_stale(tmp_path: Path, tiny_world: Path) -> None:
    import shutil

    world = tmp_path / "world"
    shutil.copytree(tiny_world, world)
    cfg = _cfg(simulate={"path": str(world)}, report={"output": str(tmp_path / "r.html")})
    outcome = run(cfg, run_dir=tmp_path / "run", until="simulate")
    assert outcome == {"simulate": "ran"}
    assert stage_states(cfg, tmp_path / "run")["simulate"] == "done"
    with open(world / "imaging" / "cases.tsv", "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert stage_states(cfg, tmp_path / "run")["simulate"] == "stale"


@pytest.mark.slow
def test_sigkill_mid_stage_then_resume_is_byte_identical(tmp_path: Path, tiny_run: Path) -> None:
    """Kill the real pipeline while it simulates; the rerun matches an uninterrupted run."""
    (tmp_path / "tiny.yaml").write_text(TINY_CONFIG, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen([sys.executable, "-m", "radiogenomics", "run", "tiny.yaml"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    run_dir = tmp_path / "runs" / "tiny"
    deadline = time.time() + 60
    while time.time() < deadline and not (run_dir / "simulate" / "world" / "gdc").exists():
        tmp_glob = list(run_dir.glob(".simulate.tmp-*/world/gdc")) + list(
            run_dir.glob(".simulate.tmp-*/.world.tmp-*/gdc"))
        if tmp_glob:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the stage and its worker processes
    proc.wait()
    assert not (run_dir / "simulate").exists(), "a killed stage left output under its final name"
    assert list(run_dir.glob(".simulate.tmp-*")), "the kill did not land mid-stage"

    result = run_cli("run", "tiny.yaml", "--until", "extract", cwd=tmp_path)  # resume, then one more
    assert result.returncode == 0, result.stderr
    assert not list(run_dir.glob(".*.tmp-*"))
    resumed = json.loads((run_dir / "simulate" / "stage.json").read_text())
    reference = json.loads((tiny_run / "runs" / "tiny" / "simulate" / "stage.json").read_text())
    assert resumed["outputs"] == reference["outputs"]
    assert resumed["fingerprint"] == reference["fingerprint"]


@pytest.mark.slow
def test_cli_run_twice_skips_and_status_reports_done(tiny_run: Path) -> None:
    result = run_cli("run", "tiny.yaml", cwd=tiny_run)
    assert result.returncode == 0, result.stderr
    assert f"0 stage(s) ran, {len(STAGES)} up to date" in result.stdout
    status = run_cli("status", "tiny.yaml", cwd=tiny_run)
    lines = dict(line.split()[:2] for line in status.stdout.splitlines())
    assert lines == {s.name: "done" for s in STAGES}
    changed = run_cli("status", "tiny.yaml", "--set", "report.title=changed", cwd=tiny_run)
    lines = dict(line.split()[:2] for line in changed.stdout.splitlines())
    assert lines == {s.name: "stale" if s.name == "report" else "done" for s in STAGES}
