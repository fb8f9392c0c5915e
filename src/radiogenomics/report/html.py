"""Render sections into one self-contained HTML file (plotly.js inlined exactly once)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from .._files import atomic_write_text
from .._logging import logger
from ..errors import UserError
from .model import FigureBlock, Section, TableBlock, TextBlock

__all__ = ["build_report", "embed_json", "escape_plotly_strings", "render_report"]

_TEMPLATES = Path(__file__).parent / "templates"
#: keys whose strings are Plotly format templates written by the suite, not data
_TEMPLATE_KEYS = re.compile(r"template$")


def embed_json(obj: Any) -> Markup:
    """JSON that is safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&``
    are written as unicode escapes, so data can never close the tag."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_plotly_strings(obj: Any, key: str = "") -> Any:
    """Escape every string of a figure's JSON for Plotly's pseudo-HTML text rendering.

    Plotly interprets a subset of HTML in titles, tick labels, legend names and hover text, so a
    sample ID or gene name such as ``<b>`` would change the rendering. Escaped, it shows as the
    literal text. Hover/text *templates* written by the suite are left as they are.
    """
    if isinstance(obj, str):
        return obj if _TEMPLATE_KEYS.search(key) else _escape_text(obj)
    if isinstance(obj, dict):
        return {k: escape_plotly_strings(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [escape_plotly_strings(v, key) for v in obj]
    return obj


def _figure_payload(block: FigureBlock) -> dict[str, Any]:
    import plotly.io as pio

    spec = json.loads(pio.to_json(block.figure, validate=False, remove_uids=True))
    return {
        "data": escape_plotly_strings(spec.get("data", [])),
        "layout": escape_plotly_strings(spec.get("layout", {})),
        "tsv": block.data.to_csv(sep="\t", index=False),
        "name": block.name,
    }


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "data"


def render_report(
    sections: Sequence[Section],
    *,
    title: str,
    provenance: dict[str, Any] | None = None,
) -> str:
    """Render ``sections`` into one HTML document (a string).

    Every figure's data is embedded as JSON in ``<script type="application/json">`` elements and
    drawn by one inline script; plotly.js is inlined once whatever the number of figures.
    """
    import jinja2
    from plotly.offline import get_plotlyjs

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    rendered: list[dict[str, Any]] = []
    n_fig = n_tab = 0
    for section in sections:
        blocks: list[dict[str, Any]] = []
        for block in section.blocks:
            if isinstance(block, TextBlock):
                blocks.append({"kind": "text", "text": block.text})
            elif isinstance(block, FigureBlock):
                n_fig += 1
                blocks.append(
                    {
                        "kind": "figure",
                        "id": f"fig-{n_fig}",
                        "caption": block.caption,
                        "file": _safe_name(block.name) + ".tsv",
                        "payload": embed_json(_figure_payload(block)),
                    }
                )
            elif isinstance(block, TableBlock):
                n_tab += 1
                shown = block.data.head(block.max_rows)
                blocks.append(
                    {
                        "kind": "table",
                        "id": f"tab-{n_tab}",
                        "caption": block.caption,
                        "columns": [str(c) for c in shown.columns],
                        "rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False)],
                        "n_rows": len(block.data),
                        "file": _safe_name(block.name) + ".tsv",
                        "payload": embed_json({"tsv": block.data.to_csv(sep="\t", index=False)}),
                    }
                )
            else:  # pragma: no cover - the Block union is closed
                msg = f"unknown report block {type(block).__name__}"
                raise TypeError(msg)
        rendered.append({"id": _safe_name(section.id), "title": section.title, "blocks": blocks})
    template = env.get_template("report.html")
    return template.render(
        title=title,
        sections=rendered,
        provenance=provenance or {},
        plotly_js=Markup(get_plotlyjs()),
        report_js=Markup((_TEMPLATES / "report.js").read_text(encoding="utf-8")),
        report_css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _provenance(run_dir: Path, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    stages = []
    for name, rec in records.items():
        stages.append(
            {
                "stage": name,
                "finished_at": rec.get("finished_at", ""),
                "wall_time_s": rec.get("wall_time_s", ""),
                "fingerprint": str(rec.get("fingerprint", ""))[:16],
                "params": json.dumps(rec.get("params", {}), indent=2, sort_keys=True),
                "inputs": rec.get("inputs", {}),
                "versions": ", ".join(f"{k} {v}" for k, v in sorted(rec.get("versions", {}).items())),
            }
        )
    return {"run_dir": run_dir.name, "stages": stages}


def build_report(run_dir: str | Path, out_html: str | Path, *, title: str | None = None) -> Path:
    """Build the report of a run directory into ``out_html`` (written atomically).

    Reads only the run directory: each completed stage's ``stage.json`` and the artefacts its
    report hook turns into sections. Never recomputes an analysis.
    """
    from ..pipeline import RECORD, STAGES, read_record

    run_dir = Path(run_dir)
    records: dict[str, dict[str, Any]] = {}
    sections: list[Section] = []
    for stage in STAGES:
        if stage.name == "report":  # its own record (if any) is the previous report's
            continue
        record = read_record(run_dir / stage.name)
        if record is None:
            continue
        records[stage.name] = record
        if stage.report is not None:
            logger.debug("report: sections from stage %s", stage.name)
            sections.extend(stage.load("report")(run_dir / stage.name))
    if not records:
        msg = f"{run_dir}: no completed stage (no */{RECORD}); run the pipeline first"
        raise UserError(msg)
    html = render_report(
        sections,
        title=title or "Radiogenomics report",
        provenance=_provenance(run_dir, records),
    )
    out = Path(out_html)
    atomic_write_text(out, html)
    logger.info("report written to %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
