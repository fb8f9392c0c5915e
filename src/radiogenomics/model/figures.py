"""Figures of the model stage (pure functions: tables in, ``go.Figure`` out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..report.figures import LAYOUT, PALETTE

LABELS = {"radscore": "Rad-score", "clinical": "Clinical", "combined": "Combined (nomogram)",
          "svm": "SVM", "random_forest": "Random forest"}


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[:2], 16)},{int(h[2:4], 16)},{int(h[4:], 16)},{alpha})"


def roc_figure(roc: pd.DataFrame, band: pd.DataFrame, metrics: pd.DataFrame, cohort: str,
               models: Sequence[str]) -> go.Figure:
    """ROC curves of ``models`` in one cohort, each with its bootstrap 95% band and its AUC
    (DeLong 95% CI) in the legend."""
    fig = go.Figure()
    for i, model in enumerate(models):
        colour = PALETTE[i % len(PALETTE)]
        b = band[(band["cohort"] == cohort) & (band["model"] == model)]
        if len(b):
            fig.add_trace(go.Scatter(x=np.r_[b["fpr"], b["fpr"][::-1]],
                                     y=np.r_[b["tpr_high"], b["tpr_low"][::-1]], fill="toself",
                                     fillcolor=_rgba(colour, 0.15), line={"width": 0},
                                     hoverinfo="skip", showlegend=False))
        r = roc[(roc["cohort"] == cohort) & (roc["model"] == model)]
        m = metrics[(metrics["cohort"] == cohort) & (metrics["model"] == model)].iloc[0]
        name = f"{LABELS.get(model, model)}: AUC {m['auc']:.3f} ({m['auc_low']:.3f}–{m['auc_high']:.3f})"
        fig.add_trace(go.Scatter(x=r["fpr"], y=r["tpr"], mode="lines", name=name,
                                 line={"color": colour, "width": 2, "shape": "hv"},
                                 hovertemplate="1 − specificity %{x:.2f}<br>sensitivity %{y:.2f}"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999"},
                             hoverinfo="skip", showlegend=False))
    fig.update_layout(**{**LAYOUT, "height": 460}, title=f"ROC, {cohort}",
                      xaxis_title="1 − specificity", yaxis_title="sensitivity",
                      legend={"x": 0.35, "y": 0.05, "bgcolor": "rgba(255,255,255,0.7)"})
    fig.update_xaxes(range=[0, 1], constrain="domain")
    fig.update_yaxes(range=[0, 1.01], scaleanchor="x")
    return fig


def calibration_figure(calib: pd.DataFrame, model: str, cohorts: Sequence[str]) -> go.Figure:
    """Observed vs predicted risk by decile, one line per cohort, with the ideal diagonal."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999"},
                             name="ideal", hoverinfo="skip"))
    for i, cohort in enumerate(cohorts):
        c = calib[(calib["cohort"] == cohort) & (calib["model"] == model)]
        fig.add_trace(go.Scatter(x=c["predicted"], y=c["observed"], mode="lines+markers",
                                 name=cohort, line={"color": PALETTE[i % len(PALETTE)]},
                                 customdata=c["n"],
                                 hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>n %{customdata}"))
    fig.update_layout(**LAYOUT, title=f"Calibration, {LABELS.get(model, model)}",
                      xaxis_title="predicted probability", yaxis_title="observed frequency")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return fig


def dca_figure(dca: pd.DataFrame, cohort: str, models: Sequence[str]) -> go.Figure:
    """Decision curves: net benefit of each model against treat-all and treat-none."""
    fig = go.Figure()
    part = dca[dca["cohort"] == cohort]
    for i, model in enumerate(models):
        d = part[part["model"] == model]
        fig.add_trace(go.Scatter(x=d["threshold"], y=d["net_benefit"], mode="lines",
                                 name=LABELS.get(model, model),
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    first = part[part["model"] == models[0]]
    fig.add_trace(go.Scatter(x=first["threshold"], y=first["treat_all"], mode="lines",
                             name="treat all", line={"color": "#777", "dash": "dash"}))
    fig.add_trace(go.Scatter(x=first["threshold"], y=first["treat_none"], mode="lines",
                             name="treat none", line={"color": "#000", "width": 1}))
    top = float(np.nanmax(part[["net_benefit", "treat_all"]].to_numpy(dtype=float))) if len(part) else 0.5
    fig.update_layout(**LAYOUT, title=f"Decision curves, {cohort}",
                      xaxis_title="threshold probability", yaxis_title="net benefit")
    fig.update_yaxes(range=[-0.05, max(top, 0.05) * 1.1])
    return fig


def coefficient_figure(formula: pd.DataFrame) -> go.Figure:
    """The rad-score's non-zero standardised coefficients."""
    f = formula[formula["feature"] != "(intercept)"].sort_values("coef_standardised")
    fig = go.Figure(go.Bar(x=f["coef_standardised"], y=f["feature"], orientation="h",
                           marker={"color": np.where(f["coef_standardised"] > 0, PALETTE[1], PALETTE[0])},
                           hovertemplate="%{y}<br>coefficient %{x:.3f}<extra></extra>"))
    fig.update_layout(**{**LAYOUT, "height": max(300, 22 * len(f) + 120),
                         "margin": {"l": 330, "r": 20, "t": 60, "b": 50}},
                      title="Rad-score: LASSO coefficients (per SD of each feature)",
                      xaxis_title="log-odds per SD")
    return fig


def nomogram_figure(nomogram: pd.DataFrame, total: pd.DataFrame) -> go.Figure:
    """A nomogram: each predictor's points scale (0–100 for the strongest), and the total
    points → probability of occult LNM."""
    fig = go.Figure()
    rows = list(nomogram["term"])
    for i, r in enumerate(nomogram.itertuples()):
        fig.add_trace(go.Scatter(x=[r.points_min, r.points_max], y=[r.term, r.term],
                                 mode="lines+markers+text", line={"color": PALETTE[0], "width": 6},
                                 text=[r.label_min, r.label_max], textposition="top center",
                                 hovertemplate=f"{r.term}: %{{text}} → %{{x:.0f}} points<extra></extra>",
                                 showlegend=False))
    scale = float(total["total_points_max"].iloc[0]) if len(total) else 100.0
    fig.add_trace(go.Scatter(x=total["points"] / max(scale, 1e-9) * 100,
                             y=["P(occult LNM)"] * len(total), mode="markers+text",
                             text=[f"{p:.2f}" for p in total["probability"]],
                             textposition="top center", marker={"symbol": "line-ns-open", "size": 12},
                             customdata=total["points"],
                             hovertemplate="total %{customdata:.0f} points → %{text}<extra></extra>",
                             showlegend=False))
    fig.update_layout(**{**LAYOUT, "height": 90 + 60 * (len(rows) + 1),
                         "margin": {"l": 170, "r": 30, "t": 60, "b": 50}},
                      title="Nomogram (combined model): points per predictor; total points → risk",
                      xaxis_title="points (bottom row: total points rescaled to 0–100)")
    fig.update_yaxes(autorange="reversed")
    return fig
