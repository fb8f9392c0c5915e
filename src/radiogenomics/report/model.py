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


@dataclass(frozen=True)
class Headline:
    """One headline result: a label, its value in words, and the section that shows it."""

    label: str
    value: str
    target: str


@dataclass(frozen=True)
class HeadlineBlock:
    """Headline results shown as cards, each linking to its section."""

    items: list[Headline]


@dataclass(frozen=True)
class ProseBlock:
    """Paragraphs with a button that copies them (the generated methods text)."""

    paragraphs: list[str]
    copy_label: str = "Copy text"


@dataclass(frozen=True)
class ExplorerBlock:
    """The patient explorer: its data (embedded as JSON, drawn by the report's script)."""

    payload: dict


Block = TextBlock | FigureBlock | TableBlock | HeadlineBlock | ProseBlock | ExplorerBlock


@dataclass(frozen=True)
class Section:
    """One section of the report, contributed by one stage."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
