"""Save and load a fitted study without executing anything from the file.

The estimators go into ``model.skops`` (skops' format: a zip of JSON schema and arrays, read
without pickle); loading first lists the types the file would construct and refuses any outside
scikit-learn, NumPy, SciPy and this package's model classes. ``model.json`` holds the
provenance (features, clinical columns, thresholds, training patients, extraction and habitat
settings); the extraction parameters and the habitat model are copied beside them so that
``predict`` can reproduce the features of new patients.
"""

from __future__ import annotations

import hashlib
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from .._files import _temporary_beside, atomic_write_text, atomic_write_tsv, json_dumps
from ..errors import InputFileError
from .study import Study

__all__ = ["FORMAT_VERSION", "load_study", "save_study"]

FORMAT_VERSION = 1
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "radiogenomics.model.", "builtins.",
                     "collections.")


def save_study(study: Study, out: Path, *, provenance: dict[str, Any],
               copies: dict[str, Path | None]) -> None:
    """Write ``model.skops``, ``model.json`` and the ``copies`` (name → source file) to ``out``."""
    import skops.io as sio

    with _temporary_beside(out / "model.skops") as tmp:
        sio.dump({"models": study.models}, tmp)
    train_ids = sorted(map(str, study.oof.index))
    record = {
        "format_version": FORMAT_VERSION,
        "features": study.features, "numeric": study.numeric, "categorical": study.categorical,
        "thresholds": study.thresholds, "best": study.best, "params": study.params,
        "train_patients": {"n": len(train_ids), "sha256": hashlib.sha256(
            "\n".join(train_ids).encode()).hexdigest()},
        "versions": {p: version(p) for p in ("scikit-learn", "skops", "numpy")},
        "files": {},
        **provenance,
    }
    for name, src in copies.items():
        if src is not None:
            shutil.copyfile(src, out / name)
            record["files"][name] = name
    atomic_write_tsv(out / "oof.tsv", study.oof.rename_axis("patient_id"), index=True)
    atomic_write_text(out / "model.json", json_dumps(record))


def load_study(folder: str | Path) -> tuple[Study, dict[str, Any]]:
    """A study saved by :func:`save_study`, and its provenance record.

    Raises
    ------
    InputFileError
        When the folder lacks the files, the format version is unknown, or ``model.skops``
        would construct types outside the trusted libraries.
    """
    import json

    import skops.io as sio

    folder = Path(folder)
    try:
        record = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{folder}: no readable model.json; is this a model stage folder? ({exc})"
        raise InputFileError(msg) from None
    if record.get("format_version") != FORMAT_VERSION:
        msg = (f"{folder / 'model.json'}: format_version {record.get('format_version')!r}; this "
               f"version of radiogenomics reads {FORMAT_VERSION}")
        raise InputFileError(msg)
    path = folder / "model.skops"
    try:
        types = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types on a damaged file
        raise InputFileError(f"{path}: not a readable skops file ({exc})") from None
    refused = [t for t in types if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        msg = f"{path}: refuses to load types outside the trusted libraries: {refused[:5]}"
        raise InputFileError(msg)
    models = sio.load(path, trusted=types)["models"]
    oof = pd.read_csv(folder / "oof.tsv", sep="\t", index_col=0, dtype={"patient_id": str})
    study = Study(models=models, thresholds=record["thresholds"], oof=oof,
                  features=record["features"], numeric=record["numeric"],
                  categorical=record["categorical"], best=record["best"],
                  params=record["params"])
    return study, record
