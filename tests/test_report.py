"""The report shell: one self-contained file, plotly.js once, escaping, TSV downloads."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from radiogenomics.report import FigureBlock, Section, TableBlock, TextBlock, render_report
from radiogenomics.report.html import embed_json

HOSTILE = "<script>alert(1)</script>"


def _sections() -> list[Section]:
    data = pd.DataFrame({"sample": [HOSTILE, "TCGA-CV-7100", "x&y"], "value": [1.5, 2.0, 3.25]})
    figs = []
    for i in range(3):
        fig = go.Figure(go.Bar(x=data["sample"], y=data["value"] * (i + 1), text=data["sample"]))
        fig.update_layout(title=HOSTILE if i == 0 else f"figure {i}")
        figs.append(FigureBlock(fig, data=data.assign(k=i), caption=f"caption {i}", name=f"fig{i}"))
    return [
        Section("one", "First section", [TextBlock(f"text with {HOSTILE}"), *figs[:2]]),
        Section("two", "Second", [figs[2], TableBlock(data, caption="hostile table", name="tab")]),
    ]


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)


def test_plotly_js_embedded_exactly_once() -> None:
    html = render_report(_sections(), title="t")
    with_plotly = [s for s in _scripts(html) if "plotly.js v" in s[:200]]
    assert len(with_plotly) == 1
    assert html.count("plotly.js v") == 1
    assert "cdn" not in html.split("plotly.js v")[0].lower()  # nothing loaded from outside
    assert not re.search(r"<script[^>]+src=", html)


def test_hostile_strings_never_appear_raw() -> None:
    html = render_report(_sections(), title=HOSTILE)
    # the only literal '<script>' tags are the suite's own (plotly.js, the data blocks, report.js)
    assert html.count("<script>alert(1)") == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # title, text, table cell


def test_embed_json_cannot_close_a_script_tag() -> None:
    text = embed_json({"x": "</script><script>alert(1)</script>"})
    assert "</script" not in text and "<" not in text


@pytest.mark.browser
def test_report_renders_in_chromium_without_errors_or_dialogs(tmp_path: Path, browser) -> None:
    html = render_report(_sections(), title=HOSTILE)
    path = tmp_path / "index.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(accept_downloads=True)
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector("#fig-3 .main-svg")
    assert errors == []
    assert dialogs == []
    assert page.locator("div.plot .main-svg").count() >= 3
    # the hostile title and sample ID show as text
    assert page.locator("#fig-1 .gtitle").text_content() == HOSTILE
    assert page.locator("h1").text_content() == HOSTILE
    cells = page.locator("#tab-1 td").all_text_contents()
    assert HOSTILE in cells and "x&y" in cells
    ticks = page.locator("#fig-1 .xtick text").all_text_contents()
    assert HOSTILE in ticks
    # each figure's data downloads as TSV, byte for byte what it was drawn from
    with page.expect_download() as info:
        page.locator("button.download").nth(1).click()
    download = info.value
    assert download.suggested_filename == "fig1.tsv"
    got = Path(download.path()).read_text(encoding="utf-8")
    expected = _sections()[0].blocks[2].data.to_csv(sep="\t", index=False)  # type: ignore[union-attr]
    assert got == expected
    assert pd.read_csv(Path(download.path()), sep="\t")["sample"].tolist()[0] == HOSTILE
    page.close()


@pytest.mark.slow
@pytest.mark.browser
def test_pipeline_report_opens_offline(tiny_run: Path, browser) -> None:
    report = tiny_run / "reports" / "tiny" / "index.html"
    html = report.read_text(encoding="utf-8")
    assert html.count("plotly.js v") == 1
    assert "Provenance" in html and "At a glance" in html
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_selector("div.plot .main-svg")
    assert errors == []
    assert all(url.startswith(("file:", "blob:", "data:")) for url in requests), requests
    n_plots = page.locator("div.plot").count()
    assert n_plots >= 4
    assert page.locator("div.plot .main-svg").count() >= n_plots
    page.close()
