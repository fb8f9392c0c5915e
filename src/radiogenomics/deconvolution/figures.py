"""Deconvolution figures: correlation heatmap, reference UMAP, gene-by-type dot plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..report.figures import LAYOUT, PALETTE


def correlation_heatmap(corr: pd.DataFrame, *, title: str) -> go.Figure:
    """Cell types (rows) × features (columns), Spearman ρ; hover shows the adjusted p."""
    rho = corr.pivot(index="cell_type", columns="feature", values="rho")
    padj = corr.pivot(index="cell_type", columns="feature", values="padj").reindex_like(rho)
    fig = go.Figure(go.Heatmap(
        z=rho.to_numpy(), x=list(rho.columns.astype(str)), y=list(rho.index.astype(str)),
        zmin=-1, zmax=1, zmid=0, colorscale="RdBu_r", colorbar={"title": "ρ"},
        customdata=padj.to_numpy(),
        hovertemplate="%{y} × %{x}<br>ρ %{z:.2f}<br>padj %{customdata:.3g}<extra></extra>"))
    fig.update_layout(title=title, **{**LAYOUT, "height": max(420, 28 * len(rho) + 160),
                                      "margin": {"l": 160, "r": 20, "t": 60, "b": 140}})
    return fig


def umap_figure(umap: pd.DataFrame, *, title: str) -> go.Figure:
    fig = go.Figure()
    for i, (t, part) in enumerate(umap.groupby("cell_type", sort=True)):
        fig.add_trace(go.Scatter(x=part["UMAP1"], y=part["UMAP2"], mode="markers", name=str(t),
                                   marker={"size": 3, "color": PALETTE[i % len(PALETTE)]},
                                   text=part["cell"].astype(str),
                                   hovertemplate="%{text}<extra>" + str(t) + "</extra>"))
    fig.update_layout(title=title, **{**LAYOUT, "height": 520})
    fig.update_layout(legend={"itemsizing": "constant"})  # legend markers readable at any size
    fig.update_xaxes(title="UMAP1", showticklabels=False)
    fig.update_yaxes(title="UMAP2", showticklabels=False)
    return fig


def dotplot_figure(dots: pd.DataFrame, *, title: str) -> go.Figure:
    genes = list(dict.fromkeys(dots["gene"].astype(str)))
    types = sorted(dots["cell_type"].astype(str).unique())
    size = 4 + 18 * np.sqrt(dots["fraction_expressing"].to_numpy())
    fig = go.Figure(go.Scatter(
        x=dots["gene"].astype(str), y=dots["cell_type"].astype(str), mode="markers",
        marker={"size": size, "color": dots["mean_expression"], "colorscale": "Viridis",
                "showscale": True, "colorbar": {"title": "mean log expr."}},
        customdata=np.stack([dots["mean_expression"], dots["fraction_expressing"]], axis=1),
        hovertemplate=("%{x} in %{y}<br>mean %{customdata[0]:.2f}, expressed in "
                       "%{customdata[1]:.0%} of cells<extra></extra>")))
    fig.update_layout(title=title, **{**LAYOUT, "height": max(420, 30 * len(types) + 180),
                                      "margin": {"l": 160, "r": 20, "t": 60, "b": 120}})
    fig.update_xaxes(categoryorder="array", categoryarray=genes, tickangle=-60)
    fig.update_yaxes(categoryorder="array", categoryarray=types[::-1])
    return fig
