"""Stage ``report``: the run directory's sections rendered into one HTML file."""

from __future__ import annotations

from .._files import atomic_write_bytes
from .._logging import logger
from ..pipeline import StageContext
from .html import build_report

def run(ctx: StageContext) -> None:
    """Write ``index.html`` into the stage folder and copy it to ``report.output`` if set."""
    cfg = ctx.config.report
    html = build_report(ctx.run_dir, ctx.out_dir / "index.html", title=cfg.title,
                        explorer_images=cfg.explorer_images)
    target = ctx.config.resolved_report_path()
    if target != ctx.run_dir / "report" / "index.html":
        atomic_write_bytes(target, html.read_bytes())
        logger.info("report copied to %s", target)
