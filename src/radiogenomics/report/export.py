"""Publication files of every report figure (PNG or SVG) through kaleido and Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .._logging import logger
from ..errors import UserError
from .html import _safe_name, collect_sections, figure_spec
from .model import FigureBlock

__all__ = ["export_figures"]

#: where Debian and most distributions install Chromium; kaleido looks for Chrome otherwise
_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def _browser() -> None:
    """Point kaleido at the system Chromium unless the user chose a browser (BROWSER_PATH)."""
    if os.environ.get("BROWSER_PATH"):
        return
    for candidate in _CHROMIUM:
        if Path(candidate).is_file():
            os.environ["BROWSER_PATH"] = candidate
            return
    found = shutil.which("chromium") or shutil.which("google-chrome")
    if found:
        os.environ["BROWSER_PATH"] = found


def export_figures(run_dir: str | Path, out_dir: str | Path, fmt: str = "png", *,
                   width: int = 1000, height: int | None = None, scale: float = 3.0,
                   names: Sequence[str] | None = None) -> list[Path]:
    """Write every figure of the run's report to ``out_dir`` as ``NN_section_name.fmt``.

    The figures are exactly those of the HTML report (same data, same escaping); ``names``
    keeps only the figures with those names. PNG is written at ``scale`` × the CSS size; SVG is
    vector. All figures go through one browser session (kaleido's batch call) into a temporary
    folder and are then renamed into place, so no half-written file appears under a final name.
    """
    if fmt not in ("png", "svg"):
        msg = f"--export-figures: {fmt!r} is not a figure format; use png or svg"
        raise UserError(msg)
    import importlib.util

    import plotly.graph_objects as go
    import plotly.io as pio

    if importlib.util.find_spec("kaleido") is None:  # pragma: no cover - a core dependency
        msg = "figure export needs kaleido; pip install 'kaleido>=1'"
        raise UserError(msg)
    _browser()
    sections, _ = collect_sections(run_dir, explorer_images=0)
    figures = [(n, section.id, block) for n, (section, block) in enumerate(
        ((s, b) for s in sections for b in s.blocks if isinstance(b, FigureBlock)), 1)
        if names is None or block.name in names]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs, files, heights = [], [], []
    for n, section, block in figures:
        spec = figure_spec(block)
        fig = go.Figure(data=spec["data"], layout=spec["layout"])
        fig.update_layout(sliders=[], updatemenus=[])  # controls mean nothing on paper
        figs.append(fig)
        heights.append(height or int(fig.layout.height or 450))
        files.append(f"{n:02d}_{_safe_name(section)}_{_safe_name(block.name)}.{fmt}")
    logger.info("exporting %d figures as %s through kaleido (%s)", len(figs), fmt,
                os.environ.get("BROWSER_PATH", "kaleido's browser"))
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        try:
            pio.write_images(figs, [staging / f for f in files], format=fmt, width=width,
                             height=heights, scale=scale)
        except Exception as exc:  # kaleido reports a missing browser with several types
            msg = (f"figure export failed ({type(exc).__name__}: {exc}); kaleido needs Chrome "
                   "or Chromium: install Debian's chromium or set BROWSER_PATH")
            raise UserError(msg) from exc
        written = []
        for f in files:
            os.replace(staging / f, out / f)
            written.append(out / f)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("%d figures written to %s as %s", len(written), out, fmt)
    return written
