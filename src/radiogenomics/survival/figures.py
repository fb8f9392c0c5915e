"""Survival figures: Kaplan–Meier with confidence bands and a number-at-risk table, forest plot
of hazard ratios, cut-point statistic curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..report.figures import LAYOUT, PALETTE


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def km_figure(curves: pd.DataFrame, at_risk: pd.DataFrame, *, title: str,
              x_label: str = "months") -> go.Figure:
    """Step curves per group with shaded pointwise CIs; numbers at risk below the axis."""
    groups = list(dict.fromkeys(curves["group"].astype(str)))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.78, 0.22])
    for i, g in enumerate(groups):
        part = curves[curves["group"].astype(str) == g]
        col = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=np.concatenate([part["time"], part["time"][::-1]]),
                                 y=np.concatenate([part["ci_high"], part["ci_low"][::-1]]),
                                 fill="toself", fillcolor=_rgba(col, 0.15), line={"width": 0},
                                 line_shape="hv", hoverinfo="skip", showlegend=False,
                                 legendgroup=g), row=1, col=1)
        fig.add_trace(go.Scatter(x=part["time"], y=part["survival"], mode="lines", name=g,
                                 line={"color": col, "shape": "hv", "width": 2}, legendgroup=g,
                                 customdata=np.stack([part["ci_low"], part["ci_high"]], axis=1),
                                 hovertemplate=(f"{g}<br>%{{x:.1f}} {x_label}: %{{y:.2f}} "
                                                "(%{customdata[0]:.2f}–%{customdata[1]:.2f})"
                                                "<extra></extra>")), row=1, col=1)
    times = [float(t) for t in at_risk.columns]
    for i, g in enumerate(groups):
        if g not in at_risk.index.astype(str):
            continue
        counts = at_risk.loc[at_risk.index.astype(str) == g].iloc[0].to_numpy()
        fig.add_trace(go.Scatter(x=times, y=[g] * len(times), mode="text", cliponaxis=False,
                                 text=[str(int(c)) for c in counts], showlegend=False,
                                 textfont={"color": PALETTE[i % len(PALETTE)]},
                                 hovertemplate=f"{g}: %{{text}} at risk at %{{x:g}} {x_label}"
                                               "<extra></extra>"), row=2, col=1)
    fig.update_layout(title=title, **{**LAYOUT, "height": 520})
    fig.update_yaxes(title="survival probability", range=[0, 1.02], row=1, col=1)
    # half a row of room above and below, so the top and bottom rows' numbers are not cut
    fig.update_yaxes(title="at risk", type="category", categoryorder="array",
                     categoryarray=groups[::-1], range=[-0.7, len(groups) - 0.3], row=2, col=1)
    # ticks at the at-risk times, continued at the same step over the rest of the follow-up
    ticks = list(times)
    step = np.diff(times)
    if len(times) > 1 and np.allclose(step, step[0]) and step[0] > 0:
        end = float(curves["time"].max()) if len(curves) else times[-1]
        while ticks[-1] + step[0] <= end and len(ticks) < 20:  # a short step: no tick forest
            ticks.append(ticks[-1] + float(step[0]))
    fig.update_xaxes(title=x_label, tickvals=ticks, row=2, col=1)
    fig.update_xaxes(showticklabels=True, tickvals=ticks, row=1, col=1)
    return fig


def forest_figure(table: pd.DataFrame, *, title: str) -> go.Figure:
    """Hazard ratio with 95% CI per covariate (log axis); hover shows p. Covariates whose CI is
    degenerate (0 to infinity: separation, e.g. no event in one category) are left out and
    named in the title."""
    finite = (table["hr_low"] > 0) & np.isfinite(table["hr_high"]) & np.isfinite(table["hr"])
    dropped = list(table.index[~finite.to_numpy()].astype(str))
    if dropped:
        # plain text: every string of a figure is escaped for the page, markup would show
        title = f"{title} · not shown (no finite CI): {', '.join(dropped)}"
    data = table[finite.to_numpy()].iloc[::-1]
    labels = data.index.astype(str)
    fig = go.Figure(go.Scatter(
        x=data["hr"], y=labels, mode="markers", marker={"size": 9, "color": PALETTE[0]},
        error_x={"type": "data", "symmetric": False, "array": data["hr_high"] - data["hr"],
                 "arrayminus": data["hr"] - data["hr_low"], "color": PALETTE[0]},
        customdata=np.stack([data["hr_low"], data["hr_high"], data["p"]], axis=1),
        hovertemplate=("%{y}<br>HR %{x:.2f} (%{customdata[0]:.2f}–%{customdata[1]:.2f})"
                       "<br>p %{customdata[2]:.3g}<extra></extra>")))
    fig.add_vline(x=1, line={"dash": "dash", "color": "#666", "width": 1})
    fig.update_layout(title=title, **{**LAYOUT, "height": max(300, 40 * len(data) + 140),
                                      "margin": {"l": 200, "r": 20, "t": 60, "b": 50}})
    fig.update_xaxes(type="log", title="hazard ratio (95% CI)")
    return fig


def cutpoint_figure(curve: pd.DataFrame, *, cutpoint: float, p: float, p_naive: float,
                    score: str) -> go.Figure:
    """|standardised log-rank statistic| over the candidate cuts, the chosen one marked."""
    fig = go.Figure(go.Scatter(x=curve["cutpoint"], y=curve["statistic"], mode="lines+markers",
                               marker={"size": 4, "color": PALETTE[0]},
                               hovertemplate="cut %{x:.3g}: |Z| %{y:.2f}<extra></extra>"))
    fig.add_vline(x=cutpoint, line={"dash": "dash", "color": PALETTE[1], "width": 1})
    fig.update_layout(title=(f"Maximally selected log-rank statistic over {score} cuts: best "
                             f"{cutpoint:.3g}, corrected p {p:.3g} (naive {p_naive:.3g})"),
                      **{**LAYOUT, "height": 380})
    fig.update_xaxes(title=f"cut-point of {score}")
    fig.update_yaxes(title="|standardised log-rank statistic|")
    return fig
