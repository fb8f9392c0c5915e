"""Figures of the radiogenomics stages (DE and GSEA): pure functions, a table in, a figure out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..report.figures import LAYOUT, PALETTE

UP, DOWN, NS = "#D55E00", "#0072B2", "#BBBBBB"


def _de_colours(table: pd.DataFrame, alpha: float, log2fc: float) -> tuple[np.ndarray, np.ndarray]:
    sig = (table["padj"] < alpha).to_numpy()
    big = (table["log2FoldChange"].abs() >= log2fc).to_numpy()
    up = (table["log2FoldChange"] > 0).to_numpy()
    colour = np.where(sig & big & up, UP, np.where(sig & big & ~up, DOWN, NS))
    label = np.where(sig & big & up, "up", np.where(sig & big & ~up, "down", "not significant"))
    return colour, label


def _de_hover(table: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Hover data as short strings (the page needs 3-4 digits, not 17)."""
    def fmt(values: pd.Series, spec: str) -> list[str]:
        return [format(v, spec) for v in values.to_numpy(dtype=float)]

    custom = np.array([table["gene_name"].astype(str).tolist(), table.index.astype(str).tolist(),
                       fmt(table["log2FoldChange"], ".3f"), fmt(table["padj"], ".3g"),
                       fmt(table["baseMean"], ".4g")], dtype=object).T
    template = ("<b>%{customdata[0]}</b> (%{customdata[1]})<br>log2FC %{customdata[2]}"
                "<br>padj %{customdata[3]}<br>baseMean %{customdata[4]}<extra></extra>")
    return custom, template


#: display cells per axis when thinning the not-significant cloud of a volcano or MA plot
THIN_BINS = 150


def _short(values: np.ndarray) -> list[float]:
    """Coordinates to 4 significant digits (sub-pixel on any screen; a smaller report)."""
    return [float(f"{v:.4g}") for v in values]


def thin_points(x: np.ndarray, y: np.ndarray, keep: np.ndarray, *, bins: int = THIN_BINS) -> np.ndarray:
    """Which points to draw: all of ``keep``, and of the others one per cell of a
    ``bins`` × ``bins`` grid over the plot's range (points in one cell overlap on screen).

    A volcano of 20,000 genes is mostly a cloud of overlapping grey points; drawing one per
    display cell keeps its shape and outliers and cuts the report by megabytes.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = keep.copy()
    rest = np.flatnonzero(~keep & np.isfinite(x) & np.isfinite(y))
    if len(rest) == 0:
        return out

    def cell(v: np.ndarray) -> np.ndarray:
        lo, hi = np.nanmin(v), np.nanmax(v)
        return np.floor((v - lo) / ((hi - lo) or 1.0) * (bins - 1)).astype(np.int64)

    ids = cell(x)[rest] * bins + cell(y)[rest]
    _, first = np.unique(ids, return_index=True)
    out[rest[np.sort(first)]] = True
    return out


def _by_class(fig: go.Figure, table: pd.DataFrame, x: np.ndarray, y: np.ndarray, alpha: float,
              log2fc: float) -> None:
    colour, label = _de_colours(table, alpha, log2fc)
    custom, template = _de_hover(table)
    drawn = thin_points(x, y, label != "not significant")
    for name, col in (("not significant", NS), ("down", DOWN), ("up", UP)):
        total = label == name
        part = total & drawn
        if not part.any():
            continue
        shown = (f"{name} ({int(total.sum())}; {int(part.sum())} drawn)" if part.sum() < total.sum()
                 else f"{name} ({int(total.sum())})")
        fig.add_trace(go.Scatter(
            x=_short(x[part]), y=_short(y[part]), mode="markers", name=shown,
            marker={"color": col, "size": 4 if name == "not significant" else 5,
                    "opacity": 0.5 if name == "not significant" else 0.8},
            customdata=custom[part], hovertemplate=template))


def volcano_figure(table: pd.DataFrame, *, alpha: float, log2fc: float, title: str) -> go.Figure:
    """log2 fold change against −log10 adjusted p; thresholds drawn as dashed lines."""
    data = table.dropna(subset=["log2FoldChange", "padj"])
    y = -np.log10(np.clip(data["padj"].to_numpy(dtype=float), 1e-300, None))
    fig = go.Figure()
    _by_class(fig, data, data["log2FoldChange"].to_numpy(dtype=float), y, alpha, log2fc)
    fig.add_hline(y=-np.log10(alpha), line={"dash": "dash", "color": "#666", "width": 1})
    if log2fc > 0:
        for v in (-log2fc, log2fc):
            fig.add_vline(x=v, line={"dash": "dash", "color": "#666", "width": 1})
    fig.update_layout(title=title, **{**LAYOUT, "height": 480})
    fig.update_xaxes(title="log2 fold change (high / low rad-score)")
    fig.update_yaxes(title="−log10 adjusted p")
    return fig


def ma_figure(table: pd.DataFrame, *, alpha: float, log2fc: float, title: str) -> go.Figure:
    """Mean normalised count (log10) against log2 fold change."""
    data = table.dropna(subset=["log2FoldChange", "baseMean"])
    data = data.assign(padj=data["padj"].fillna(1.0))
    fig = go.Figure()
    _by_class(fig, data, np.log10(data["baseMean"].to_numpy(dtype=float) + 1.0),
              data["log2FoldChange"].to_numpy(dtype=float), alpha, log2fc)
    fig.add_hline(y=0, line={"color": "#666", "width": 1})
    fig.update_layout(title=title, **{**LAYOUT, "height": 440})
    fig.update_xaxes(title="log10 (mean normalised count + 1)")
    fig.update_yaxes(title="log2 fold change")
    return fig


def pca_figure(pca: pd.DataFrame, explained: Sequence[float], *, group: str, title: str,
               hover: str = "sample") -> go.Figure:
    """PC1 against PC2 of the VST matrix, one colour per group."""
    fig = go.Figure()
    for i, (name, part) in enumerate(pca.groupby(group, sort=True, observed=True)):
        fig.add_trace(go.Scatter(
            x=part["PC1"], y=part["PC2"], mode="markers", name=str(name),
            marker={"color": PALETTE[i % len(PALETTE)], "size": 7, "opacity": 0.8},
            text=part[hover].astype(str),
            hovertemplate="%{text}<br>PC1 %{x:.2f}, PC2 %{y:.2f}<extra>" + str(name) + "</extra>"))
    fig.update_layout(title=title, **LAYOUT)
    fig.update_xaxes(title=f"PC1 ({100 * explained[0]:.1f}% of variance)")
    fig.update_yaxes(title=f"PC2 ({100 * explained[1]:.1f}% of variance)")
    return fig


def heatmap_figure(z: pd.DataFrame, groups: pd.Series, *, title: str) -> go.Figure:
    """Genes × samples z-scores (rows: genes by fold change; columns: samples by group)."""
    fig = go.Figure(go.Heatmap(
        z=z.to_numpy(), x=list(z.columns.astype(str)), y=list(z.index.astype(str)),
        colorscale="RdBu_r", zmid=0, zmin=-3, zmax=3, colorbar={"title": "z"},
        customdata=np.tile(groups.reindex(z.columns).astype(str).to_numpy(), (z.shape[0], 1)),
        hovertemplate="%{y} in %{x} (%{customdata})<br>z %{z:.2f}<extra></extra>"))
    labels = groups.reindex(z.columns).astype(str).to_numpy()
    changes = np.flatnonzero(labels[1:] != labels[:-1])
    for c in changes:  # a line between consecutive groups
        fig.add_vline(x=c + 0.5, line={"color": "#000", "width": 2})
    fig.update_layout(title=title, **{**LAYOUT, "height": max(420, 14 * z.shape[0] + 120)})
    order = list(dict.fromkeys(labels))
    fig.update_xaxes(showticklabels=False, title="samples: " + " | ".join(order))
    return fig


def nes_figure(table: pd.DataFrame, *, fdr: float, title: str, top: int = 30) -> go.Figure:
    """Normalised enrichment score per set (the ``top`` by FDR), coloured by significance."""
    data = table.sort_values(["FDR q-val", "NOM p-val"], kind="stable").head(top)
    data = data.iloc[::-1]
    sig = (data["FDR q-val"] < fdr).to_numpy()
    colour = np.where(sig, np.where(data["NES"] > 0, UP, DOWN), NS)
    custom = np.stack([data["collection"].astype(str), data["FDR q-val"].astype(float),
                       data["NOM p-val"].astype(float), data["size"].astype(int)], axis=1)
    fig = go.Figure(go.Bar(
        x=data["NES"], y=data["Term"].astype(str), orientation="h", marker={"color": colour},
        customdata=custom,
        hovertemplate=("<b>%{y}</b> (%{customdata[0]})<br>NES %{x:.2f}<br>FDR %{customdata[1]:.3g}"
                       "<br>nominal p %{customdata[2]:.3g}<br>%{customdata[3]} genes<extra></extra>")))
    fig.add_vline(x=0, line={"color": "#666", "width": 1})
    fig.update_layout(title=title, **{**LAYOUT, "height": max(420, 22 * len(data) + 120),
                                      "margin": {"l": 280, "r": 20, "t": 60, "b": 50}})
    fig.update_xaxes(title="normalised enrichment score (high vs low rad-score)")
    return fig


def fdr_text(fdr: float, permutations: int) -> str:
    """An FDR for display: ``< 1/permutations`` when the permutations found none as extreme."""
    return f"< {1 / permutations:.2g}" if fdr <= 0 else f"{fdr:.3g}"


def running_es_figure(running: pd.DataFrame, sets: pd.DataFrame, *,
                      permutations: int) -> go.Figure:
    """Running enrichment score along the ranked list with the set's hits as ticks and its lead
    genes marked; one set at a time, chosen from a drop-down menu.

    ``running`` is long (``term, rank, gene, running_es, hit``); ``sets`` has one row per set
    (``Term, NES, FDR q-val, Lead_genes``) in menu order.
    """
    fig = go.Figure()
    buttons, n_traces = [], []
    for k, (_, row) in enumerate(sets.iterrows()):
        term = str(row["Term"])
        part = running[running["term"] == term]
        lead = set(str(row["Lead_genes"]).split(";"))
        hits = part[part["hit"]]
        is_lead = hits["gene"].astype(str).isin(lead).to_numpy()
        traces = [go.Scatter(x=part["rank"], y=part["running_es"], mode="lines", name="running score",
                             line={"color": PALETTE[2]}, visible=k == 0,
                             hovertemplate="rank %{x}<br>score %{y:.3f}<extra></extra>")]
        for name, sub, col in (("hits", hits[~is_lead], "#444444"), ("lead genes", hits[is_lead], UP)):
            traces.append(go.Scatter(
                x=sub["rank"], y=np.zeros(len(sub)), mode="markers", name=name, visible=k == 0,
                marker={"symbol": "line-ns-open", "size": 14, "color": col},
                text=sub["gene"].astype(str), hovertemplate="%{text} (rank %{x})<extra></extra>"))
        for tr in traces:
            fig.add_trace(tr)
        n_traces.append(len(traces))
        title = (f"{term}: NES {float(row['NES']):.2f}, FDR "
                 f"{fdr_text(float(row['FDR q-val']), permutations)}")
        buttons.append({"label": term, "method": "update",
                        "args": [{"visible": []}, {"title": {"text": title}}]})
    total = sum(n_traces)
    start = 0
    for button, n in zip(buttons, n_traces, strict=True):
        button["args"][0]["visible"] = [start <= i < start + n for i in range(total)]
        start += n
    fig.add_hline(y=0, line={"color": "#666", "width": 1})
    first = buttons[0]["args"][1]["title"]["text"] if buttons else "Running enrichment score"
    fig.update_layout(title=first, **{**LAYOUT, "height": 420},
                      updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0,
                                    "xanchor": "right", "y": 1.18, "yanchor": "top",
                                    "showactive": True}] if len(buttons) > 1 else [])
    fig.update_xaxes(title="gene rank (most up in high rad-score first)")
    fig.update_yaxes(title="enrichment score")
    return fig


def thin_running(running: pd.DataFrame, points: int = 400) -> pd.DataFrame:
    """The running score at every hit, the extremes and ``points`` evenly spaced ranks."""
    n = len(running)
    keep = np.zeros(n, dtype=bool)
    keep[np.linspace(0, n - 1, min(points, n)).astype(int)] = True
    keep |= running["hit"].to_numpy()
    es = running["running_es"].to_numpy()
    keep[[int(np.argmax(es)), int(np.argmin(es))]] = True
    return running[keep]
