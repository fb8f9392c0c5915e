"""Pseudonymised runs: hospital patient IDs replaced by salted hashes in everything a run writes.

With ``pseudonymize: true`` in the analysis config, every imaging patient ID is replaced, where
the case table is read, by ``P`` + the first 12 hex digits of SHA-256(salt + ID). The salt and
the mapping live only in the pseudonym file the user keeps (``pseudonym_file``, outside the run
directory); the same file gives the same pseudonyms on every rerun, so cached work stays valid.

What else could carry an ID is scrubbed while the run is active: every text artefact written
through the atomic writers (tables, JSON, the report), file paths recorded as inputs (image folders
are often named after the patient), and the log. TCGA patient barcodes
(``TCGA-XX-XXXX``) are kept: they are the public, already de-identified IDs that link a patient
to the GDC.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from .errors import UserError

__all__ = ["MARKER", "Pseudonymizer", "active", "activate", "deactivate", "pseudonym", "scrub"]

#: written into a pseudonymised run directory (holds no ID, no salt)
MARKER = "pseudonymized.json"
_TCGA_PATIENT = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}$")


class Pseudonymizer:
    """A salted mapping from original IDs to pseudonyms, kept in one JSON file."""

    def __init__(self, path: Path, salt: str, mapping: dict[str, str]) -> None:
        self.path = path
        self.salt = salt
        self.mapping = dict(mapping)
        self._pattern: re.Pattern[str] | None = None
        self._saved = dict(mapping)

    @classmethod
    def open(cls, path: str | Path, run_dir: Path) -> Pseudonymizer:
        """Read the pseudonym file, or start one with a fresh random salt."""
        path = Path(path).resolve()
        if path.is_relative_to(run_dir.resolve()):
            msg = (f"pseudonym_file {path} is inside the run directory {run_dir}; it holds the "
                   "key to the pseudonyms and must be kept apart from the results")
            raise UserError(msg)
        if not path.is_file():
            return cls(path, secrets.token_hex(16), {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(path, str(data["salt"]), {str(k): str(v) for k, v in data["pseudonyms"].items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"{path}: not a readable pseudonym file ({exc}); restore it from your copy"
            raise UserError(msg) from None

    def pseudonym(self, original: str) -> str:
        """The pseudonym of ``original`` (TCGA patient barcodes are returned unchanged)."""
        original = str(original)
        if _TCGA_PATIENT.match(original):
            return original
        if original not in self.mapping:
            digest = hashlib.sha256((self.salt + original).encode("utf-8")).hexdigest()
            self.mapping[original] = "P" + digest[:12]
            self._pattern = None
        return self.mapping[original]

    def register(self, originals: Iterable[str]) -> None:
        for original in originals:
            self.pseudonym(original)

    def scrub(self, text: str) -> str:
        """``text`` with every known original ID replaced by its pseudonym."""
        if not self.mapping:
            return text
        if self._pattern is None:
            keys = sorted(self.mapping, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(k) for k in keys))
        return self._pattern.sub(lambda m: self.mapping[m.group(0)], text)

    def save(self) -> None:
        """Write the pseudonym file (only when new IDs were added)."""
        if self.mapping == self._saved and self.path.is_file():
            return
        from ._files import atomic_write_bytes

        body = {"note": "Keep this file private and apart from the results: it maps each "
                        "pseudonym back to the patient ID.",
                "salt": self.salt, "pseudonyms": dict(sorted(self.mapping.items()))}
        atomic_write_bytes(self.path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
        self._saved = dict(self.mapping)


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = _ACTIVE[0]
        if current is not None:
            record.msg = current.scrub(record.getMessage())
            record.args = ()
        return True


_ACTIVE: list[Pseudonymizer | None] = [None]
_FILTER = _ScrubFilter()


def active() -> Pseudonymizer | None:
    """The pseudonymizer of the run in progress, if it is pseudonymised."""
    return _ACTIVE[0]


def activate(p: Pseudonymizer) -> None:
    """Make ``p`` scrub writes and log records until :func:`deactivate`."""
    _ACTIVE[0] = p
    from ._logging import logger

    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    for handler in logger.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def deactivate() -> None:
    from ._logging import logger

    _ACTIVE[0] = None
    logger.removeFilter(_FILTER)
    for handler in logger.handlers:
        handler.removeFilter(_FILTER)


def pseudonym(original: str) -> str:
    """``original``'s pseudonym in a pseudonymised run, else ``original``."""
    current = _ACTIVE[0]
    return current.pseudonym(original) if current is not None else str(original)


def scrub(text: str) -> str:
    """``text`` without original IDs in a pseudonymised run, else unchanged."""
    current = _ACTIVE[0]
    return current.scrub(text) if current is not None else text
