"""What a stage contributes to the report: sections made of text, figures and tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


@dataclass(frozen=True)
class TextBlock:
    """A paragraph of plain text (escaped when rendered; no HTML)."""

    text: str


@dataclass(frozen=True)
class FigureBlock:
    """A Plotly figure with the table it was drawn from (downloadable as TSV from the page)."""

    figure: go.Figure
    data: pd.DataFrame
    caption: str = ""
    name: str = "figure"


@dataclass(frozen=True)
class TableBlock:
    """A table shown on the page (first ``max_rows`` rows) and downloadable whole as TSV."""

    data: pd.DataFrame
    caption: str = ""
    name: str = "table"
    max_rows: int = 50


Block = TextBlock | FigureBlock | TableBlock


@dataclass(frozen=True)
class Section:
    """One section of the report, contributed by one stage."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
