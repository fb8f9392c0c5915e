"""radiogenomics: CT habitat radiomics for occult LNM in HNSCC, linked to TCGA-HNSC biology.

The package is organised one module per pipeline stage (see ``pipeline.py``). Importing the
package is cheap: heavy dependencies (scanpy, pyradiomics, PyDESeq2, ...) are imported by the
stage that needs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._logging import logger
from .errors import UserError

try:
    __version__ = version("radiogenomics")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["UserError", "__version__", "logger", "open_run"]


def open_run(path):  # noqa: ANN001, ANN201 - re-exported lazily to keep the import cheap
    """A finished run directory's tables (see :mod:`radiogenomics.results`)."""
    from .results import open_run as _open_run

    return _open_run(path)
