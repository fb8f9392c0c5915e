"""Plotly figures as pure functions: a table in, a ``go.Figure`` out.

Text from data (IDs, gene names) is escaped when the report is rendered, so these functions
take plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

#: Okabe-Ito (colour-blind safe), then extra distinct colours for up to 12 categories
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442", "#8C564B", "#7F7F7F", "#BCBD22", "#9467BD")
#: rows above which box plots draw only their outliers as points
MAX_BOX_POINTS = 300
#: how figures name a patient's LNM status (0/1 in the tables)
LNM_LABELS = {0: "LNM−", 1: "LNM+"}
LAYOUT = {"template": "simple_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
          "height": 420, "hoverlabel": {"namelength": -1}}


def box_by_group(
    data: pd.DataFrame,
    *,
    value: str,
    group: str,
    title: str,
    hover: str | None = None,
    color: str | None = None,
    value_label: str | None = None,
    order: Sequence[str] | None = None,
) -> go.Figure:
    """Box plots of ``value`` per ``group`` with every point shown (hover names the row).

    ``color`` splits each group into side-by-side boxes. Above :data:`MAX_BOX_POINTS` rows only
    the outliers are drawn as points (thousands of jittered SVG points cost the page seconds
    and hide the boxes); the data download has every row.
    """
    fig = go.Figure()
    points = "all" if len(data) <= MAX_BOX_POINTS else "outliers"
    groups = list(order) if order is not None else sorted(data[group].astype(str).unique())
    splits = sorted(data[color].astype(str).unique()) if color else [None]
    for i, split in enumerate(splits):
        part = data if split is None else data[data[color].astype(str) == split]
        fig.add_trace(
            go.Box(
                x=part[group].astype(str),
                y=part[value],
                name=str(split) if split is not None else value,
                boxpoints=points,
                jitter=0.4,
                pointpos=0,
                marker={"size": 4, "opacity": 0.6, "color": PALETTE[i % len(PALETTE)]},
                line={"color": PALETTE[i % len(PALETTE)]},
                text=part[hover].astype(str) if hover else None,
                hovertemplate=("%{text}<br>" if hover else "") + "%{x}: %{y:.3g}<extra></extra>",
            )
        )
    fig.update_layout(title=title, boxmode="group" if color else "overlay",
                      showlegend=color is not None, **LAYOUT)
    fig.update_xaxes(categoryorder="array", categoryarray=groups, title=group)
    fig.update_yaxes(title=value_label or value)
    return fig


def scatter(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    color: str | None = None,
    hover: str | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
) -> go.Figure:
    """Scatter of ``y`` against ``x``, one trace per ``color`` level, hover naming the row."""
    fig = go.Figure()
    levels = sorted(data[color].astype(str).unique()) if color else [None]
    for i, level in enumerate(levels):
        part = data if level is None else data[data[color].astype(str) == level]
        fig.add_trace(
            go.Scatter(
                x=part[x], y=part[y], mode="markers",
                name=str(level) if level is not None else y,
                marker={"size": 6, "opacity": 0.7, "color": PALETTE[i % len(PALETTE)]},
                text=part[hover].astype(str) if hover else None,
                hovertemplate=("%{text}<br>" if hover else "")
                + f"{x_label or x}: %{{x:.3g}}<br>{y_label or y}: %{{y:.3g}}<extra></extra>",
            )
        )
    fig.update_layout(title=title, showlegend=color is not None, **LAYOUT)
    fig.update_xaxes(title=x_label or x)
    fig.update_yaxes(title=y_label or y)
    return fig


def stacked_bars(data: pd.DataFrame, *, index: str, columns: Sequence[str], title: str,
                 y_label: str = "fraction") -> go.Figure:
    """Stacked bars, one per row of ``data`` (labelled by ``index``), one colour per column."""
    fig = go.Figure()
    for i, col in enumerate(columns):
        fig.add_trace(go.Bar(x=data[index].astype(str), y=data[col], name=str(col),
                             marker={"color": PALETTE[i % len(PALETTE)]},
                             hovertemplate="%{x}<br>" + str(col) + ": %{y:.3f}<extra></extra>"))
    fig.update_layout(title=title, barmode="stack", **LAYOUT)
    fig.update_xaxes(showticklabels=len(data) <= 40)
    fig.update_yaxes(title=y_label)
    return fig
