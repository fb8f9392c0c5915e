"""Habitat fractions against the deconvolved CD8 T-cell fraction, for the TCGA patients with CT.

    python analyses/habitats_vs_cd8.py RUN_DIR [--cell-type "CD8 T"] [--out habitats_cd8.html]

Uses only the public API (``radiogenomics.open_run``) on a finished run directory: joins each
linked patient's habitat fractions (imaging) with the cell fraction (transcriptome), prints the
Spearman correlation per habitat and writes an offline interactive figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

import radiogenomics


def habitat_vs_cell_type(run_dir: Path, cell_type: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The joined table (one row per linked patient) and Spearman ρ/p per habitat."""
    run = radiogenomics.open_run(run_dir)
    habitats = run.habitat_fractions()
    cells = run.cell_fractions()
    if cell_type not in cells.columns:
        raise SystemExit(f"no cell type {cell_type!r}; the run has {list(cells.columns[1:])}")
    linked = run.linked()
    joined = (linked[["patient", "barcode", "rad_score"]]
              .merge(cells[[cell_type]], left_on="barcode", right_index=True)
              .merge(habitats, left_on="patient", right_index=True))
    rows = []
    for habitat in habitats.columns:
        rho, p = stats.spearmanr(joined[habitat], joined[cell_type])
        rows.append({"habitat": habitat, "spearman_rho": rho, "p": p, "n": len(joined)})
    return joined, pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--cell-type", default="CD8 T")
    parser.add_argument("--out", type=Path, default=Path("habitats_vs_cd8.html"))
    args = parser.parse_args()
    joined, table = habitat_vs_cell_type(args.run_dir, args.cell_type)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    habitats = list(table["habitat"])
    fig = make_subplots(rows=1, cols=len(habitats), shared_yaxes=True,
                        subplot_titles=[f"{h}: ρ = {r:.2f}" for h, r in
                                        zip(habitats, table["spearman_rho"], strict=True)])
    for i, habitat in enumerate(habitats, start=1):
        fig.add_trace(go.Scatter(x=joined[habitat], y=joined[args.cell_type], mode="markers",
                                 text=joined["patient"], showlegend=False,
                                 hovertemplate="%{text}<br>%{x:.3f}, %{y:.3f}<extra></extra>"),
                      row=1, col=i)
        fig.update_xaxes(title_text=f"{habitat} fraction", row=1, col=i)
    fig.update_yaxes(title_text=f"{args.cell_type} fraction", row=1, col=1)
    fig.update_layout(template="simple_white", height=380, width=260 * len(habitats),
                      title=f"Habitat fractions vs {args.cell_type} ({len(joined)} TCGA patients)")
    fig.write_html(args.out, include_plotlyjs=True)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
