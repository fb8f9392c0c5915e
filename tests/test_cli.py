"""The command line as a user meets it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from radiogenomics import __version__


def test_help_lists_subcommands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "status", "simulate", "extract", "report"):
        assert f"  {command} " in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_unknown_option_is_a_usage_error() -> None:
    result = run_cli("run", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_report_of_an_empty_run_dir_is_a_user_error(tmp_path: Path) -> None:
    result = run_cli("report", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert "no completed stage" in result.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_simulate_then_report_subcommands(tmp_path: Path, tiny_run: Path) -> None:
    out = tmp_path / "w"
    result = run_cli("simulate", str(out), "--scale", "tiny", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert (out / "truth" / "summary.json").is_file()
    html = tmp_path / "again.html"
    result = run_cli("--log-file", str(tmp_path / "log.txt"), "report",
                     str(tiny_run / "runs" / "tiny"), "--out", str(html))
    assert result.returncode == 0, result.stderr
    assert html.stat().st_size > 1_000_000 and "At a glance" in html.read_text()
    assert (tmp_path / "log.txt").read_text().count("report written") == 1


def test_user_error_traceback_goes_to_the_log_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nsimulate: 3\n")
    log = tmp_path / "debug.log"
    result = run_cli("--log-file", str(log), "run", str(cfg))
    assert result.returncode == 2
    assert "'simulate'" in result.stderr and "Traceback" not in result.stderr
    assert "Traceback" in log.read_text()


def test_extract_subcommand_writes_outputs_and_lists_failures(tmp_path: Path) -> None:
    from imaging_fixtures import phantom, write_nrrd

    image, mask = phantom()
    write_nrrd(tmp_path / "img.nrrd", image)
    write_nrrd(tmp_path / "mask.nrrd", mask)
    (tmp_path / "cases.tsv").write_text(
        "patient_id\timage\tmask\ncohort\nP1\timg.nrrd\tmask.nrrd\nP2\tabsent.nrrd\tmask.nrrd\n"
        .replace("\ncohort", ""), encoding="utf-8")
    params = Path(__file__).resolve().parents[1] / "analyses" / "params" / "ct_fast.yaml"
    result = run_cli("extract", str(tmp_path / "cases.tsv"), "--out", str(tmp_path / "out"),
                     "--params", str(params), "--executor", "serial", "--max-failure-fraction", "0.5")
    assert result.returncode == 0, result.stderr
    assert "1 cases x 107 features" in result.stdout
    failures = (tmp_path / "out" / "failures.tsv").read_text()
    assert "P2" in failures and "absent.nrrd: image not found" in failures
    strict = run_cli("extract", str(tmp_path / "cases.tsv"), "--out", str(tmp_path / "out2"),
                     "--params", str(params), "--executor", "serial")
    assert strict.returncode == 2 and "more than max_failure_fraction" in strict.stderr
    assert not (tmp_path / "out2" / "radiomics.h5ad").exists()
