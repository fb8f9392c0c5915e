"""Atomic writes, checksums and a checksum cache keyed by file size and modification time."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = [
    "HashCache",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_md5",
    "json_dumps",
    "tree_files",
]


def file_md5(path: str | Path) -> str:
    """MD5 of a file's bytes (the checksum GDC manifests use)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def json_dumps(obj: Any) -> str:
    """Deterministic, readable JSON (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def run_relative(path: str | Path, run_dir: Path) -> str:
    """``path`` relative to the run directory when it lies inside it (results then do not
    depend on where the run directory is), else the absolute path."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return str(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    A reader never sees a half-written file; if writing fails (a full disk, a kill) the previous
    file at ``path`` is left as it was.
    """
    with _temporary_beside(Path(path)) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8).

    In a pseudonymised run every original patient ID in ``text`` is replaced by its pseudonym
    (:mod:`radiogenomics.pseudonyms`).
    """
    from .pseudonyms import scrub

    atomic_write_bytes(path, scrub(text).encode("utf-8"))


def atomic_write_tsv(path: str | Path, table: Any, index: bool = False) -> None:
    """Write a DataFrame as tab-separated text with :func:`atomic_write_text`."""
    atomic_write_text(path, table.to_csv(sep="\t", index=index))


def atomic_write_h5ad(path: str | Path, adata: Any) -> None:
    """Write an AnnData to a temporary file beside ``path``, then rename it into place."""
    with _temporary_beside(Path(path)) as tmp:
        adata.write_h5ad(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())


def tree_files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (or ``root`` itself if it is a file), sorted."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file())


class HashCache:
    """MD5 checksums remembered by (path, size, mtime), so unchanged inputs are not re-read.

    The cache lives in one JSON file (in the run directory); a file whose size or modification
    time changed is hashed again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        if path.is_file():
            try:
                self._entries = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._entries = {}

    def md5(self, file: Path) -> str:
        st = file.stat()
        from .pseudonyms import scrub

        key = scrub(str(file.resolve()))
        entry = self._entries.get(key)
        if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            return str(entry[2])
        digest = file_md5(file)
        self._entries[key] = [st.st_size, st.st_mtime_ns, digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        if self._dirty:
            atomic_write_text(self.path, json.dumps(self._entries, sort_keys=True))
            self._dirty = False


def remove_tree(path: Path) -> None:
    """Remove a file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
