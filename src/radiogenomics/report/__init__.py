"""The interactive report: Plotly figures assembled into one self-contained HTML file.

Stages contribute :class:`Section` objects (text, figures with their data, tables) through the
``report`` hook declared in :mod:`radiogenomics.pipeline`; :func:`build_report` reads only the
run directory and writes one file with plotly.js embedded exactly once.
"""

from __future__ import annotations

from .html import build_report, render_report
from .model import FigureBlock, Section, TableBlock, TextBlock

__all__ = ["FigureBlock", "Section", "TableBlock", "TextBlock", "build_report", "render_report"]
