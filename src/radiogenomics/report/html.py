"""Render sections into one self-contained HTML file (plotly.js inlined exactly once)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from .._files import atomic_write_text
from .._logging import logger
from ..errors import UserError
from .model import (
    ExplorerBlock,
    FigureBlock,
    HeadlineBlock,
    ProseBlock,
    Section,
    TableBlock,
    TextBlock,
)

__all__ = ["build_report", "collect_sections", "embed_json", "escape_plotly_strings",
           "figure_spec", "render_report"]

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


def _is_categorical(values: Any) -> bool:
    return isinstance(values, list) and any(isinstance(v, str) for v in values)


#: a generous width of one character of Plotly's 12 px default font, in pixels
_CHAR_PX = 8


def _legend_items(spec: dict[str, Any]) -> list[str]:
    """Names of the traces Plotly would list in the legend (none when it shows no legend)."""
    layout = spec.get("layout", {})
    items = [str(t.get("name", "")) for t in spec.get("data", []) if t.get("showlegend", True)
             and t.get("visible", True) is not False]
    shown = layout.get("showlegend")
    if shown is False or (shown is None and len(items) < 2):
        return []
    return items


def _on_left_edge(layout: dict[str, Any], yaxis: dict[str, Any]) -> bool:
    """Whether a y axis's tick labels sit in the figure's left margin (not beside a subplot
    further right, or on the right-hand side)."""
    if yaxis.get("side", "left") != "left":
        return False
    anchor = yaxis.get("anchor", "x")
    xaxis = layout.get(f"xaxis{anchor[1:]}", {}) if anchor.startswith("x") else {}
    return float(xaxis.get("domain", [0.0, 1.0])[0]) <= 0.01


def preset_margins(spec: dict[str, Any]) -> dict[str, Any]:
    """Set margins so plotly.js need not draw a figure twice.

    When tick labels or the legend do not fit the margins, plotly.js measures them after
    drawing, widens the margin and draws the whole figure again: most of the report's drawing
    time. Axes whose tick labels are numbers fit the fixed margins, so their automatic margin is
    turned off. Category labels (gene sets, features) and a legend to the right of the plot keep
    the automatic margin as a safety net, but the margin is first widened from the labels'
    length so that it is rarely needed.
    """
    layout = spec.setdefault("layout", {})
    margin = layout.setdefault("margin", {})
    labels: dict[str, list[str]] = {}
    for trace in spec.get("data", []):
        for letter in ("x", "y"):
            if _is_categorical(trace.get(letter)):
                ref = trace.get(f"{letter}axis", letter)  # "x", "x2", ...
                labels.setdefault(f"{letter}axis{ref[1:]}", []).extend(map(str, trace[letter]))
    names = {k for k in layout if re.fullmatch(r"[xy]axis\d*", k)} | {"xaxis", "yaxis"}
    for name in names:
        axis = layout.setdefault(name, {})
        if name not in labels and axis.get("type") not in ("category", "multicategory"):
            axis.setdefault("automargin", False)
        elif name in labels and name.startswith("y") and _on_left_edge(layout, axis):
            title = axis.get("title", {})
            has_title = bool(title.get("text") if isinstance(title, dict) else title)
            needed = _CHAR_PX * max(map(len, labels[name])) + 20 + (30 if has_title else 0)
            margin["l"] = max(margin.get("l", 80), needed)
    legend = layout.get("legend", {})
    items = _legend_items(spec)
    if items and legend.get("orientation", "v") == "v" and legend.get("x", 1.02) >= 1:
        title = legend.get("title", {})
        text = str(title.get("text", "") if isinstance(title, dict) else title or "")
        margin["r"] = max(margin.get("r", 80), _CHAR_PX * max(map(len, items + [text])) + 60)
    return spec


def figure_spec(block: FigureBlock) -> dict[str, Any]:
    """The figure as Plotly JSON with every data string escaped (what the page draws)."""
    import plotly.io as pio

    spec = json.loads(pio.to_json(block.figure, validate=False, remove_uids=True))
    preset_margins(spec)
    out = {"data": escape_plotly_strings(spec.get("data", [])),
           "layout": escape_plotly_strings(spec.get("layout", {}))}
    if spec.get("frames"):
        out["frames"] = escape_plotly_strings(spec["frames"])
    return out


class _TSVStore:
    """Each distinct TSV is embedded once (figures drawn from the same table share it)."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def add(self, text: str) -> tuple[str, Markup | None]:
        """The TSV's element id, and its JSON payload when this is its first use."""
        if text in self.ids:
            return self.ids[text], None
        self.ids[text] = f"tsv-{len(self.ids) + 1}"
        return self.ids[text], embed_json({"tsv": text})


_VENDOR = Path(__file__).parent / "vendor"
#: plotly.js version of the vendored cartesian bundle
CARTESIAN_VERSION = "4.1.1"
#: trace types in plotly.js's cartesian partial bundle
CARTESIAN_TYPES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d",
                             "histogram2dcontour", "image", "pie", "scatter", "scatterternary",
                             "violin"})


def plotly_bundle(trace_types: set[str]) -> tuple[str, str]:
    """The plotly.js to inline and its name: the vendored cartesian bundle when it can draw
    every ``trace_types`` and matches the plotly.js version of the installed plotly.py (the
    figures' JSON is written for that version), else plotly.py's full bundle."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if get_plotlyjs_version() == CARTESIAN_VERSION and trace_types <= CARTESIAN_TYPES:
        return (_VENDOR / "plotly-cartesian.min.js").read_text(encoding="utf-8"), "cartesian"
    return get_plotlyjs(), "full"


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
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    rendered: list[dict[str, Any]] = []
    tsvs = _TSVStore()
    n_fig = n_tab = n_prose = 0
    for section in sections:
        blocks: list[dict[str, Any]] = []
        for block in section.blocks:
            if isinstance(block, TextBlock):
                blocks.append({"kind": "text", "text": block.text})
            elif isinstance(block, FigureBlock):
                n_fig += 1
                tsv_id, tsv_payload = tsvs.add(block.data.to_csv(sep="\t", index=False))
                blocks.append({"kind": "figure", "id": f"fig-{n_fig}", "caption": block.caption,
                               "name": _safe_name(block.name), "tsv_id": tsv_id,
                               "tsv_payload": tsv_payload,
                               "payload": embed_json(figure_spec(block))})
            elif isinstance(block, TableBlock):
                n_tab += 1
                shown = block.data.head(block.max_rows)
                tsv_id, tsv_payload = tsvs.add(block.data.to_csv(sep="\t", index=False))
                blocks.append({
                    "kind": "table", "id": f"tab-{n_tab}", "caption": block.caption,
                    "columns": [str(c) for c in shown.columns],
                    "rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False)],
                    "n_rows": len(block.data), "name": _safe_name(block.name),
                    "tsv_id": tsv_id, "tsv_payload": tsv_payload})
            elif isinstance(block, HeadlineBlock):
                blocks.append({"kind": "headlines", "items": [
                    {"label": h.label, "value": h.value, "target": _safe_name(h.target)}
                    for h in block.items]})
            elif isinstance(block, ProseBlock):
                n_prose += 1
                blocks.append({"kind": "prose", "id": f"prose-{n_prose}",
                               "paragraphs": block.paragraphs, "copy_label": block.copy_label})
            elif isinstance(block, ExplorerBlock):
                blocks.append({"kind": "explorer", "payload": embed_json(block.payload)})
            else:  # pragma: no cover - the Block union is closed
                msg = f"unknown report block {type(block).__name__}"
                raise TypeError(msg)
        rendered.append({"id": _safe_name(section.id), "title": section.title, "blocks": blocks})
    trace_types = {trace.type or "scatter" for section in sections for block in section.blocks
                   if isinstance(block, FigureBlock) for trace in block.figure.data}
    plotly_js, bundle = plotly_bundle(trace_types)
    logger.debug("report: plotly.js %s bundle (trace types %s)", bundle, sorted(trace_types))
    template = env.get_template("report.html")
    return template.render(
        title=title,
        sections=rendered,
        provenance=provenance or {},
        plotly_js=Markup(plotly_js),
        report_js=Markup((_TEMPLATES / "report.js").read_text(encoding="utf-8")),
        report_css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"  # NaN: an empty cell
    if value is None or value is pd.NA:  # missing in an object or nullable column
        return ""
    return str(value)


#: input checksums listed per stage (all of them stay in the stage's stage.json)
_MAX_INPUTS_SHOWN = 25


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
                "inputs": dict(list(rec.get("inputs", {}).items())[:_MAX_INPUTS_SHOWN]),
                "n_inputs": len(rec.get("inputs", {})),
                "versions": ", ".join(f"{k} {v}" for k, v in sorted(rec.get("versions", {}).items())),
            }
        )
    return {"run_dir": run_dir.name, "stages": stages}


#: stages whose sections follow the analysis sections (the simulated world's planted truth)
_AFTER_ANALYSIS = ("simulate",)


def collect_sections(run_dir: str | Path, *, explorer_images: int = 60,
                     ) -> tuple[list[Section], dict[str, dict[str, Any]]]:
    """The report's sections in reading order, and the stage records they came from.

    At a glance, the patient explorer, each stage's sections in pipeline order (the simulated
    world's planted truth after the analyses), then Methods. Reads only the run directory.
    """
    from ..pipeline import RECORD, STAGES, read_record
    from .explorer import explorer_section
    from .glance import glance_section
    from .methods import methods_section

    run_dir = Path(run_dir)
    records: dict[str, dict[str, Any]] = {}
    analysis: list[Section] = []
    after: list[Section] = []
    for stage in STAGES:
        if stage.name == "report":  # its own record (if any) is the previous report's
            continue
        record = read_record(run_dir / stage.name)
        if record is None:
            continue
        records[stage.name] = record
        if stage.report is not None:
            logger.debug("report: sections from stage %s", stage.name)
            target = after if stage.name in _AFTER_ANALYSIS else analysis
            target.extend(stage.load("report")(run_dir / stage.name))
    if not records:
        msg = f"{run_dir}: no completed stage (no */{RECORD}); run the pipeline first"
        raise UserError(msg)
    made = [glance_section(run_dir), explorer_section(run_dir, max_images=explorer_images)]
    sections = [s for s in made if s is not None] + analysis + after
    methods = methods_section(run_dir, records)
    if methods is not None:
        sections.append(methods)
    return sections, records


def build_report(run_dir: str | Path, out_html: str | Path, *, title: str | None = None,
                 explorer_images: int = 60) -> Path:
    """Build the report of a run directory into ``out_html`` (written atomically).

    Reads only the run directory: each completed stage's ``stage.json`` and the artefacts its
    report hook turns into sections. Never recomputes an analysis. ``explorer_images`` bounds
    how many patients' CT slices the patient explorer stores.
    """
    from .. import pseudonyms

    run_dir = Path(run_dir)
    if (run_dir / pseudonyms.MARKER).exists() and pseudonyms.active() is None:
        msg = (f"{run_dir} is a pseudonymised run: build its report with `radiogenomics run "
               "CONFIG` (the report stage holds the pseudonym file), not on its own")
        raise UserError(msg)
    sections, records = collect_sections(run_dir, explorer_images=explorer_images)
    html = render_report(
        sections,
        title=title or "Radiogenomics report",
        provenance=_provenance(run_dir, records),
    )
    out = Path(out_html)
    atomic_write_text(out, html)
    logger.info("report written to %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
