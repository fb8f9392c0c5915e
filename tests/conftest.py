"""Shared fixtures: a tiny simulated world and a finished tiny run, each made once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # helper modules (pipeline_stages) for tests

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny simulated world (seed 1, 2025 layout), simulated once."""
    from radiogenomics.simulate import world

    out = tmp_path_factory.mktemp("worlds") / "tiny1"
    world(out, scale="tiny", seed=1)
    return out


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the whole pipeline on the tiny world, through the command line."""
    base = tmp_path_factory.mktemp("tiny_run")
    cfg = write_config(base / "tiny.yaml", TINY_CONFIG)
    result = run_cli("run", str(cfg))
    assert result.returncode == 0, result.stderr
    return base


TINY_CONFIG = f"""\
name: tiny
run_dir: runs/tiny
simulate:
  scale: tiny
  seed: 7
extract:
  params: {REPO / "analyses" / "params" / "ct_fast.yaml"}
robustness:
  patients: 12
model:
  folds: 3
  bootstrap: 200
link:
  grouping: median   # 14 linked tumours: keep both rad-score groups large enough to test
report:
  output: reports/tiny/index.html
  title: tiny test report
"""


def run_cli(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run the installed command line in a subprocess, as a user would."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.run(
        [sys.executable, "-m", "radiogenomics", *args],
        capture_output=True, text=True, cwd=cwd, env=env, check=False, **kwargs,
    )


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (skipped where Chromium is absent,
    except in CI, where its absence is a failure)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is not installed; .ci/run must install it")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def run_tables(run_dir: Path) -> dict[str, bytes]:
    """Every table a run writes (TSV, JSON other than the stage records, GMT, YAML; wall-time
    tables aside), by path relative to the run directory."""
    out = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if not path.is_file() or rel.startswith("simulate/world/") or path.name == "stage.json":
            continue
        if path.suffix in (".tsv", ".json", ".gmt", ".yaml", ".txt") and "timings" not in path.name:
            out[rel] = path.read_bytes()
    return out
