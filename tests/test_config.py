"""The analysis config: validation messages, relative paths, --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, run_cli

from radiogenomics.config import AnalysisConfig, load_config
from radiogenomics.errors import ConfigError


def _cfg(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "analysis.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_config_loads_with_paths_relative_to_the_file() -> None:
    cfg = load_config(REPO / "analyses" / "demo.yaml")
    assert cfg.name == "demo"
    assert cfg.simulate.scale == "demo"
    assert cfg.resolved_run_dir() == (REPO / "runs" / "demo").resolve()
    assert cfg.resolved_report_path() == (REPO / "reports" / "demo" / "index.html").resolve()


def test_unknown_key_names_file_dotted_path_and_suggests(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: x\nsimulate:\n  scael: tiny\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text
    assert "'simulate.scael'" in text
    assert "did you mean 'scale'" in text
    assert "'tiny'" in text


def test_wrong_type_names_field_and_value(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: x\nsimulate:\n  seed: lots\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "'simulate.seed'" in str(err.value)
    assert "'lots'" in str(err.value)


def test_wrong_choice_is_rejected(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: x\nsimulate:\n  scale: huge\n")
    with pytest.raises(ConfigError, match=r"simulate\.scale.*'huge'"):
        load_config(path)


def test_habitat_features_need_hu_and_known_names(tmp_path: Path) -> None:
    assert load_config(_cfg(tmp_path, "name: x\n")).habitats.features == ["hu", "local_sd"]
    with pytest.raises(ConfigError, match=r"habitats\.features.*must include 'hu'"):
        load_config(_cfg(tmp_path, "name: x\nhabitats:\n  features: [local_sd]\n"))
    with pytest.raises(ConfigError, match=r"habitats\.features.*'glcm'"):
        load_config(_cfg(tmp_path, "name: x\nhabitats:\n  features: [hu, glcm]\n"))


def test_missing_input_folder_is_rejected_relative_to_config(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: x\nsimulate:\n  path: worlds/absent\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "'simulate.path'" in str(err.value)
    assert str(tmp_path / "worlds" / "absent") in str(err.value)


def test_existing_input_folder_resolves_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "worlds" / "w").mkdir(parents=True)
    cfg = load_config(_cfg(tmp_path, "name: x\nsimulate:\n  path: worlds/w\n"))
    assert cfg.simulate.path == (tmp_path / "worlds" / "w").resolve()


def test_missing_required_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'name': required but missing"):
        load_config(_cfg(tmp_path, "simulate:\n  scale: tiny\n"))


def test_python_object_tag_is_refused(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not a valid YAML config"):
        load_config(path)


def test_set_overrides_are_typed_like_the_field(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: x\n")
    cfg = load_config(path, ["simulate.seed=7", "report.title=123", "simulate.scale=tiny"])
    assert cfg.simulate.seed == 7 and isinstance(cfg.simulate.seed, int)
    assert cfg.report.title == "123"
    assert cfg.simulate.scale == "tiny"
    with pytest.raises(ConfigError, match=r"'simulate\.seed'.*'abc'"):
        load_config(path, ["simulate.seed=abc"])
    with pytest.raises(ConfigError, match=r"'simulate\.nosuch'"):
        load_config(path, ["simulate.nosuch=1"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(path, ["simulate.seed"])
    with pytest.raises(ConfigError, match="'name' is a value, not a section"):
        load_config(path, ["name.x=1"])


def test_params_dump_is_json_serialisable() -> None:
    cfg = AnalysisConfig(name="x")
    dumped = cfg.model_dump(mode="json")
    assert "source" not in dumped
    assert dumped["simulate"]["scale"] == "demo"


def test_cli_typo_exits_2_without_traceback(tmp_path: Path) -> None:
    path = _cfg(tmp_path, "name: x\nreport:\n  titel: hi\n")
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert "'report.titel'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_missing_config_exits_2(tmp_path: Path) -> None:
    result = run_cli("status", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "config file not found" in result.stderr
