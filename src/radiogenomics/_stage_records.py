"""A stage's record (``stage.json``) and the fingerprints a completed stage is compared by:
resolved parameters, input checksums, upstream fingerprints and package versions."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import pseudonyms
from ._files import HashCache, file_md5, json_dumps, tree_files
from .config import AnalysisConfig

if TYPE_CHECKING:
    from .pipeline import Stage

RECORD = "stage.json"


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """Python's and each package's installed version (``not installed`` when absent)."""
    out = {"python": platform.python_version()}
    for name in ("radiogenomics", *packages):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def stage_params(stage: Stage, cfg: AnalysisConfig) -> dict[str, Any]:
    dumped = cfg.model_dump(mode="json")
    return {section: dumped[section] for section in stage.sections}


def digest(obj: Any) -> str:
    return hashlib.sha256(json_dumps(obj).encode("utf-8")).hexdigest()


def input_checksums(stage: Stage, cfg: AnalysisConfig, cache: HashCache) -> dict[str, str]:
    out: dict[str, str] = {}
    for root in stage.inputs(cfg):
        for file in tree_files(Path(root)):
            out[pseudonyms.scrub(str(file))] = cache.md5(file)
    return out


def read_record(stage_dir: Path) -> dict[str, Any] | None:
    """A stage folder's ``stage.json``, or None when the stage never completed."""
    try:
        return json.loads((stage_dir / RECORD).read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def expected_key(
    stage: Stage, cfg: AnalysisConfig, run_dir: Path, cache: HashCache
) -> dict[str, Any] | None:
    """What a completed record must match for ``stage`` to be skipped (None: upstream missing)."""
    upstream: dict[str, str] = {}
    for name in stage.needs:
        record = read_record(run_dir / name)
        if record is None:
            return None
        upstream[name] = record["fingerprint"]
    return {
        "params_sha256": digest(stage_params(stage, cfg)),
        "inputs": input_checksums(stage, cfg, cache),
        "upstream": upstream,
    }


def is_current(record: dict[str, Any] | None, key: dict[str, Any] | None, stage: Stage,
               cfg: AnalysisConfig, stage_dir: Path) -> bool:
    """Whether a completed ``record`` matches ``key`` and the stage's outputs are all there."""
    if record is None or key is None:
        return False
    if any(record.get(k) != v for k, v in key.items()):
        return False
    if not all((stage_dir / rel).is_file() for rel in stage.outputs):
        return False
    return all(p.is_file() for p in stage.external_outputs(cfg))


def output_fingerprint(out_dir: Path) -> tuple[dict[str, str], str]:
    """Each output file's MD5 (relative path → checksum) and one digest of them all."""
    files = {
        str(p.relative_to(out_dir)): file_md5(p)
        for p in tree_files(out_dir)
        if p.name != RECORD
    }
    return files, digest(files)
