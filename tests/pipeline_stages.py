"""Small real stages for the runner's tests (importable as ``pipeline_stages:...``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiogenomics.pipeline import Stage, StageContext

CALLS: list[str] = []


def draw(ctx: StageContext) -> None:
    CALLS.append("draw")
    rng = np.random.default_rng(ctx.config.simulate.seed)
    pd.DataFrame({"x": rng.normal(size=200)}).to_csv(ctx.out_dir / "draws.tsv", sep="\t", index=False)


def summarise(ctx: StageContext) -> None:
    CALLS.append("summarise")
    x = pd.read_csv(ctx.upstream["draw"] / "draws.tsv", sep="\t")["x"]
    text = f"{ctx.config.report.title}\tmean={x.mean():.6f}\tsd={x.std():.6f}\n"
    (ctx.out_dir / "summary.tsv").write_text(text, encoding="utf-8")


def final(ctx: StageContext) -> None:
    CALLS.append("final")
    text = (ctx.upstream["summarise"] / "summary.tsv").read_text(encoding="utf-8")
    (ctx.out_dir / "final.txt").write_text(text.upper(), encoding="utf-8")


def independent(ctx: StageContext) -> None:
    CALLS.append("independent")
    (ctx.out_dir / "constant.txt").write_text("42\n", encoding="utf-8")


def broken(ctx: StageContext) -> None:
    CALLS.append("broken")
    (ctx.out_dir / "partial.txt").write_text("half", encoding="utf-8")
    msg = "this stage fails half way"
    raise RuntimeError(msg)


def forgetful(ctx: StageContext) -> None:
    CALLS.append("forgetful")


GRAPH = (
    Stage("draw", "pipeline_stages:draw", "draws", sections=("simulate",), outputs=("draws.tsv",)),
    Stage("summarise", "pipeline_stages:summarise", "summary", needs=("draw",),
          sections=("report",), outputs=("summary.tsv",)),
    Stage("final", "pipeline_stages:final", "final", needs=("summarise",), outputs=("final.txt",)),
    Stage("independent", "pipeline_stages:independent", "independent", outputs=("constant.txt",)),
)
