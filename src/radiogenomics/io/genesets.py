"""Gene-set files: the GMT format (MSigDB and others) and a TCIA ``.tcia`` download manifest."""

from __future__ import annotations

from pathlib import Path

from .._files import atomic_write_text
from ..errors import InputFileError

__all__ = ["read_gmt", "read_tcia_manifest", "write_gmt"]


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """A GMT file: one set per line, ``name<TAB>description<TAB>gene<TAB>gene...``.

    Genes keep their file order; a gene repeated within a set is kept once. Blank lines are
    skipped.

    Raises
    ------
    InputFileError
        On a set without genes or a set name used twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file (expected a GMT gene-set file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot be read as a GMT text file ({exc})") from None
    sets: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        name = fields[0].strip()
        genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
        if not name:
            raise InputFileError(f"{path}: line {number} has no set name")
        if not genes:
            msg = (f"{path}: line {number}: set {name!r} lists no genes; a GMT line is "
                   f"name<TAB>description<TAB>gene<TAB>gene...")
            raise InputFileError(msg)
        if name in sets:
            msg = f"{path}: line {number}: set name {name!r} is used twice; names must be unique"
            raise InputFileError(msg)
        sets[name] = genes
    if not sets:
        raise InputFileError(f"{path}: holds no gene sets")
    return sets


def write_gmt(path: str | Path, sets: dict[str, list[str]],
              descriptions: dict[str, str] | None = None) -> None:
    """Write ``sets`` as a GMT file (atomically); descriptions default to ``"na"``."""
    lines = []
    for name, genes in sets.items():
        desc = (descriptions or {}).get(name, "na")
        lines.append("\t".join([name, desc, *genes]))
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def read_tcia_manifest(path: str | Path) -> tuple[dict[str, str], list[str]]:
    """A TCIA ``.tcia`` manifest: ``key=value`` settings, then ``ListOfSeriesToDownload=``
    followed by one SeriesInstanceUID per line.

    Returns the settings and the series UIDs (in file order, duplicates removed).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file (expected a TCIA .tcia manifest)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot be read as a TCIA manifest ({exc})") from None
    settings: dict[str, str] = {}
    series: list[str] = []
    in_list = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if in_list:
            if not all(c.isdigit() or c == "." for c in line):
                msg = f"{path}: line {number}: {line!r} is not a DICOM UID (digits and dots)"
                raise InputFileError(msg)
            series.append(line)
        elif line.startswith("ListOfSeriesToDownload="):
            in_list = True
        elif "=" in line:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
        else:
            msg = f"{path}: line {number}: {line!r} is neither key=value nor after ListOfSeriesToDownload="
            raise InputFileError(msg)
    if not in_list:
        raise InputFileError(f"{path}: no 'ListOfSeriesToDownload=' line; is this a .tcia manifest?")
    return settings, list(dict.fromkeys(series))
