"""The report shell: one self-contained file, plotly.js once, escaping, TSV downloads."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from radiogenomics.report import FigureBlock, Section, TableBlock, TextBlock, render_report
from radiogenomics.report.html import embed_json

from conftest import run_cli

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


def _wait_all_drawn(page) -> None:  # noqa: ANN001
    """Wait for the report's script to say every figure is drawn, then check each has an SVG."""
    page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=120_000)
    undrawn = page.eval_on_selector_all(
        "div.plot", "els => els.filter(d => d.getAttribute('data-state') !== 'drawn'"
                    " || !d.querySelector('svg.main-svg')).map(d => d.id)")
    assert undrawn == []


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)


_PLOTLY_HEADER = re.compile(r"plotly\.js (\(cartesian - minified\) )?v\d")


def test_plotly_js_embedded_exactly_once() -> None:
    html = render_report(_sections(), title="t")
    with_plotly = [s for s in _scripts(html) if _PLOTLY_HEADER.search(s[:300])]
    assert len(with_plotly) == 1
    assert len(_PLOTLY_HEADER.findall(html)) == 1
    assert "cdn" not in html[:html.index("plotly.js")].lower()  # nothing loaded from outside
    assert not re.search(r"<script[^>]+src=", html)


def test_cartesian_bundle_only_when_it_can_draw_every_trace() -> None:
    from plotly.offline import get_plotlyjs

    from radiogenomics.report.html import plotly_bundle

    js, name = plotly_bundle({"scatter", "bar", "box", "heatmap"})
    assert name == "cartesian" and "(cartesian - minified)" in js[:300]
    js, name = plotly_bundle({"scatter", "sankey"})
    assert name == "full" and js == get_plotlyjs()
    sankey = go.Figure(go.Sankey(node={"label": ["a", "b"]}, link={"source": [0], "target": [1],
                                                                   "value": [1]}))
    html = render_report([Section("s", "S", [FigureBlock(sankey, data=pd.DataFrame({"a": [1]}))])],
                         title="t")
    assert "(cartesian - minified)" not in html and len(_PLOTLY_HEADER.findall(html)) == 1


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
    _wait_all_drawn(page)
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
    assert len(_PLOTLY_HEADER.findall(html)) == 1
    assert "Provenance" in html and "At a glance" in html
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    _wait_all_drawn(page)
    assert errors == []
    assert all(url.startswith(("file:", "blob:", "data:")) for url in requests), requests
    n_plots = page.locator("div.plot").count()
    assert n_plots >= 4
    assert page.locator("div.plot .main-svg").count() >= n_plots
    # fixed margins on numeric axes must still hold every tick label and axis title
    clipped = page.eval_on_selector_all(
        "div.plot", """divs => divs.flatMap(div => {
          const svg = div.querySelector('svg.main-svg').getBoundingClientRect();
          return Array.from(div.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text'))
            .map(t => [t, t.getBoundingClientRect()])
            .filter(([t, b]) => b.width > 0 && (b.left < svg.left - 1 || b.right > svg.right + 1 ||
                                                b.top < svg.top - 1 || b.bottom > svg.bottom + 1))
            .map(([t, b]) => div.id + ': ' + t.textContent);
        })""")
    assert clipped == []
    page.close()


def test_numeric_axes_get_fixed_margins_and_category_axes_keep_automatic_ones() -> None:
    from plotly.subplots import make_subplots

    from radiogenomics.report.html import preset_margins

    fig = make_subplots(rows=1, cols=2)
    fig.add_trace(go.Scatter(x=[1, 2], y=[0.5, 0.25]), row=1, col=1)
    fig.add_trace(go.Bar(x=[1.0, 2.0], y=["a long gene-set name", "another"], orientation="h"),
                  row=1, col=2)
    fig.update_layout(template="simple_white")
    spec = preset_margins(fig.to_plotly_json())
    layout = spec["layout"]
    assert layout["xaxis"]["automargin"] is False and layout["yaxis"]["automargin"] is False
    assert layout["xaxis2"]["automargin"] is False
    assert "automargin" not in layout["yaxis2"]  # the template's automatic margin applies
    # its labels sit between the subplots, so the figure's left margin stays as it was
    assert "l" not in layout["margin"]
    # ... but on the left edge the margin is widened first from the labels' length
    single = go.Figure(go.Bar(x=[1.0, 2.0], y=["a long gene-set name", "another"],
                              orientation="h"))
    wide = preset_margins(single.to_plotly_json())["layout"]["margin"]["l"]
    assert wide >= 8 * len("a long gene-set name")
    # and for the legend's names
    fig.update_traces(name="a trace with a long legend name", selector={"type": "bar"})
    assert preset_margins(fig.to_plotly_json())["layout"]["margin"]["r"] >= 8 * 30
    fig.update_layout(showlegend=False)
    assert "r" not in preset_margins(fig.to_plotly_json())["layout"]["margin"]
    # a user's explicit choice is kept
    fig.update_layout(xaxis={"automargin": True})
    assert preset_margins(fig.to_plotly_json())["layout"]["xaxis"]["automargin"] is True


def test_thin_points_keeps_every_flagged_point_and_one_per_display_cell() -> None:
    from radiogenomics.expression.figures import thin_points

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20_000), rng.exponential(size=20_000)
    keep = rng.random(20_000) < 0.05
    bins = 50
    drawn = thin_points(x, y, keep, bins=bins)
    assert drawn[keep].all()
    # one drawn point per occupied cell of the same grid, counted independently
    cx = np.floor((x - x.min()) / (x.max() - x.min()) * (bins - 1)).astype(int)
    cy = np.floor((y - y.min()) / (y.max() - y.min()) * (bins - 1)).astype(int)
    occupied = len(set(zip(cx[~keep], cy[~keep], strict=True)))
    assert (drawn & ~keep).sum() == occupied
    # the extremes of the cloud stay (each is alone or first in its cell)
    rest = np.flatnonzero(~keep)
    for i in rest[[np.argmin(x[rest]), np.argmax(x[rest]), np.argmax(y[rest])]]:
        cell = (cx == cx[i]) & (cy == cy[i]) & ~keep
        assert drawn[cell].sum() == 1


def test_a_table_shared_by_figures_is_embedded_once() -> None:
    data = pd.DataFrame({"gene": [f"G{i}" for i in range(200)], "value": np.arange(200.0)})
    sections = [Section("s", "S", [
        FigureBlock(go.Figure(go.Scatter(x=data["value"], y=data["value"])), data=data, name="a"),
        FigureBlock(go.Figure(go.Bar(x=data["gene"], y=data["value"])), data=data, name="b")])]
    html = render_report(sections, title="t")
    assert html.count("G199\\t199.0") == 1
    sources = re.findall(r'class="download" data-source="([^"]+)" data-file="([^"]+)"', html)
    assert [f for _, f in sources] == ["a.tsv", "b.tsv"]
    assert sources[0][0] == sources[1][0]


def test_headlines_and_prose_escape_their_text() -> None:
    from radiogenomics.report.model import Headline, HeadlineBlock, ProseBlock

    html = render_report([Section("glance", "G", [
        HeadlineBlock([Headline(HOSTILE, f"value {HOSTILE}", "target\"><script>")]),
        ProseBlock([f"methods {HOSTILE}"])])], title="t")
    assert "<script>alert(1)" not in html
    assert 'href="#target_script"' in html  # section anchors are reduced to safe names
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3


def test_thumbnail_crops_the_tumour_and_windows_the_ct() -> None:
    from radiogenomics.imaging.habitat_stage import VIEW_WINDOW, thumbnail

    rng = np.random.default_rng(1)
    ct = rng.integers(-1000, 1000, size=(30, 200, 180)).astype(np.int16)
    hab = np.zeros(ct.shape, np.uint8)
    hab[5:25, 40:140, 60:90] = rng.integers(1, 4, size=(20, 100, 30))
    thumb = thumbnail(ct, hab, spacing=(0.5, 0.5, 3.0), max_side=48, max_slices=12, margin=4)
    step = int(np.ceil(108 / 48))  # rows 36..143 (108 voxels) → every 3rd; columns 56..93 → 13
    assert thumb["ct"].shape == thumb["habitats"].shape == (12, 36, 13)
    assert list(thumb["slices"]) == list(np.linspace(5, 24, 12).round().astype(int))
    z = int(thumb["slices"][3])
    lo, hi = VIEW_WINDOW
    expected = np.round((np.clip(ct[z, 36:144:step, 56:94:step], lo, hi) - lo) / (hi - lo) * 255)
    np.testing.assert_array_equal(thumb["ct"][3], expected.astype(np.uint8))
    np.testing.assert_array_equal(thumb["habitats"][3], hab[z, 36:144:step, 56:94:step])
    np.testing.assert_allclose(thumb["pixel_mm"], [0.5 * step, 0.5 * step])


def test_explorer_images_are_bounded_and_start_with_the_extremes() -> None:
    from radiogenomics.report.explorer import choose_image_patients

    ids = [f"P{i:03d}" for i in range(120)]
    pred = pd.DataFrame({"cohort": ["train"] * 60 + ["external"] * 60,
                         "lnm": [0] * 60 + [1] * 60, "p": np.linspace(0, 1, 120)}, index=ids)
    pred.loc["P010", "lnm"], pred.loc["P070", "lnm"] = 1, 0  # low-risk LNM+, high-risk LNM−
    chosen = choose_image_patients(pred, "p", 0.5, available=set(ids) - {"P119"}, limit=20)
    assert len(chosen) == len(set(chosen)) == 20
    # per cohort: highest two, lowest two, the misclassified; P119 has no slices
    assert chosen[:10] == ["P059", "P058", "P000", "P001", "P010",
                           "P118", "P117", "P060", "P061", "P070"]
    assert len(choose_image_patients(pred, "p", 0.5, available=set(ids), limit=3)) == 3


def _guarded_page(browser, errors: list[str], dialogs: list[str], refused: list[str]):  # noqa: ANN001, ANN202
    """A page that records console errors and dialogs and refuses every request that is not
    file:, data: or blob: (recording it)."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def route(r, request) -> None:  # noqa: ANN001
        if request.url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            refused.append(request.url)
            r.abort()

    page.route("**/*", route)
    return page


@pytest.mark.slow
@pytest.mark.browser
def test_tiny_report_explorer_selects_a_patient(tiny_run: Path, browser) -> None:
    report = tiny_run / "reports" / "tiny" / "index.html"
    pred = pd.read_csv(tiny_run / "runs" / "tiny" / "model" / "predictions.tsv", sep="\t",
                       index_col=0)
    errors: list[str] = []
    dialogs: list[str] = []
    refused: list[str] = []
    page = _guarded_page(browser, errors, dialogs, refused)
    page.goto(report.as_uri())
    _wait_all_drawn(page)
    assert page.locator("div.plot").count() >= 20
    # sections in reading order
    ids = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    assert ids[:2] == ["glance", "explorer"] and ids[-2:] == ["methods", "provenance"]
    assert ids.index("model") < ids.index("de") < ids.index("deconvolve") < ids.index("survival")
    # every headline links to a section of the page
    targets = page.eval_on_selector_all("a.headline", "els => els.map(e => e.hash.slice(1))")
    assert targets and set(targets) <= set(ids)
    # a patient with stored slices, found by typing its ID
    data = page.evaluate("JSON.parse(document.getElementById('explorer-json').textContent)")
    with_ct = sorted(data["images"])
    assert 0 < len(with_ct) <= 60
    pid = with_ct[-1]
    page.fill("#explorer-search", pid)
    rows = page.locator("#explorer-table tbody tr")
    assert rows.count() == 1
    rows.first.locator("button.patient-link").click()
    page.wait_for_function(f"() => document.getElementById('explorer-ct').dataset.patient === {pid!r}")
    assert page.locator("#explorer-title").text_content() == pid
    # the star marks this patient's rad-score (the model's value, read independently)
    star = page.evaluate("(() => { const d = document.getElementById('explorer-score').data; "
                         "return d[d.length - 1].x[0]; })()")
    assert star == pytest.approx(pred.loc[pid, "rad_score"], rel=1e-4)
    # the CT viewer drew the tumour: the cyan contour is on the canvas
    contour = page.evaluate("""(() => { const c = document.getElementById('explorer-ct');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 0 && d[i+1] === 229 && d[i+2] === 255) n++;
        return n; })()""")
    assert contour > 20
    # moving the slider changes the slice shown
    first = page.locator("#explorer-ct").get_attribute("data-slice")
    page.locator("#explorer-slice").fill("0")
    assert page.locator("#explorer-ct").get_attribute("data-slice") != first or \
        len(data["images"][pid]["slices"]) == 1
    # a transcriptome patient: cell fractions against the cohort
    linked = pd.read_csv(tiny_run / "runs" / "tiny" / "link" / "linked.tsv", sep="\t")
    tcga = linked["patient"].iloc[0]
    page.fill("#explorer-search", tcga)
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('explorer-cells').hidden")
    mine = page.evaluate("document.getElementById('explorer-cells').data[1].x")
    fractions = pd.read_csv(tiny_run / "runs" / "tiny" / "deconvolve" / "fractions.tsv",
                            sep="\t").set_index("patient")
    types = data["rna"]["cell_types"]
    np.testing.assert_allclose(mine, fractions.loc[tcga, types].to_numpy(dtype=float), rtol=1e-4)
    # clicking a point of the rad-score plot selects that patient
    box = page.locator("#explorer-score .nsewdrag").bounding_box()
    point = page.evaluate("""(() => { const d = document.getElementById('explorer-score');
        const t = d.data[0], xa = d._fullLayout.xaxis, ya = d._fullLayout.yaxis;
        return {id: t.customdata[0], x: xa.l2p(t.x[0]) + xa._offset, y: ya.l2p(t.y[0]) + ya._offset}; })()""")
    assert box is not None
    page.locator("#explorer-score").scroll_into_view_if_needed()
    origin = page.locator("#explorer-score").bounding_box()
    page.mouse.click(origin["x"] + point["x"], origin["y"] + point["y"])
    page.wait_for_function(f"() => document.getElementById('explorer-title').textContent === {point['id']!r}")
    assert errors == [] and dialogs == [] and refused == []
    page.close()


@pytest.mark.slow
@pytest.mark.browser
def test_tiny_report_shows_hostile_ids_and_titles_as_text(tiny_run: Path, browser,
                                                          tmp_path: Path) -> None:
    from radiogenomics.report.html import collect_sections
    from radiogenomics.report.model import ExplorerBlock

    hostile = "<img src=x onerror=alert(1)>"
    sections, records = collect_sections(tiny_run / "runs" / "tiny")
    explorer = next(s for s in sections if s.id == "explorer")
    payload = next(b for b in explorer.blocks if isinstance(b, ExplorerBlock)).payload
    old = sorted(payload["images"])[0]
    new = f"{hostile}</script><script>alert(2)</script>"
    ids = payload["patients"]["id"]
    ids[ids.index(old)] = new
    payload["images"][new] = payload["images"].pop(old)
    html = render_report(sections, title=hostile)
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    errors: list[str] = []
    dialogs: list[str] = []
    refused: list[str] = []
    page = _guarded_page(browser, errors, dialogs, refused)
    page.goto(path.as_uri())
    _wait_all_drawn(page)
    assert page.locator("h1").text_content() == hostile
    assert page.title() == hostile
    page.fill("#explorer-search", "onerror")
    cell = page.locator("#explorer-table tbody tr button.patient-link")
    assert cell.count() == 1 and cell.text_content() == new
    cell.click()
    page.wait_for_function("() => document.getElementById('explorer-ct').dataset.patient !== ''")
    assert page.locator("#explorer-title").text_content() == new
    assert page.locator("img").count() == 0
    assert dialogs == [] and errors == [] and refused == []
    page.close()


@pytest.mark.slow
def test_export_figures_writes_every_figure(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        pytest.skip("figure export needs Chromium")
    from radiogenomics.report.html import collect_sections
    from radiogenomics.report.model import FigureBlock

    run = tiny_run / "runs" / "tiny"
    sections, _ = collect_sections(run, explorer_images=0)
    n_figures = sum(isinstance(b, FigureBlock) for s in sections for b in s.blocks)
    result = run_cli("report", str(run), "--out", str(tmp_path / "r" / "index.html"),
                     "--export-figures", "svg")
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "r" / "figures").glob("*.svg"))
    assert len(files) == n_figures
    assert all(f.read_text(encoding="utf-8").lstrip().startswith("<svg") for f in files)
    volcano = next(f for f in files if "de_volcano" in f.name).read_text(encoding="utf-8")
    assert "Volcano" in volcano
    # PNG through the library call, at the requested pixel size
    from radiogenomics.report.export import export_figures

    pngs = export_figures(run, tmp_path / "png", "png", width=400, height=300, scale=2,
                          names=["de_volcano"])
    assert len(pngs) == 1 and "de_volcano" in pngs[0].name
    header = pngs[0].read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 800 and int.from_bytes(header[20:24], "big") == 600


@pytest.mark.slow
def test_glance_and_methods_report_what_the_run_recorded(tiny_run: Path) -> None:
    import json
    from importlib.metadata import version

    import yaml

    from radiogenomics.report.glance import exclusions, glance_section, study_flow
    from radiogenomics.report.html import collect_sections
    from radiogenomics.report.methods import methods_paragraphs
    from radiogenomics.report.model import HeadlineBlock

    run = tiny_run / "runs" / "tiny"
    pred = pd.read_csv(run / "model" / "predictions.tsv", sep="\t", index_col=0)
    flow = study_flow(run).set_index(["cohort", "centre"])
    for cohort, part in pred.groupby("cohort"):
        assert flow.loc[(cohort, "all"), "patients"] == len(part)
        lnm_pos = flow.loc[(cohort, "all"), "LNM+"]
        if part["lnm"].notna().any():
            assert lnm_pos == int(part["lnm"].sum())
        else:  # no status recorded: blank, not 0
            assert lnm_pos is pd.NA
        for centre, sub in part.groupby("center"):
            assert flow.loc[(cohort, str(centre)), "patients"] == len(sub)
    # the sentence above the table: LNM+ counts only where the status is recorded
    sentence = next(b.text for b in glance_section(run).blocks
                    if getattr(b, "text", "").startswith("Patients analysed per cohort"))
    for cohort, part in pred.groupby("cohort"):
        known = part["lnm"].dropna()
        expected = (f"{cohort} {len(part)} ({int(known.sum())} LNM+)" if len(known) == len(part)
                    else f"{cohort} {len(part)} (LNM status not recorded)" if known.empty
                    else f"{cohort} {len(part)} ({int(known.sum())} LNM+ of {len(known)} with")
        assert expected in sentence, (expected, sentence)
    assert pred["lnm"].isna().any()  # the transcriptome cohort: status not recorded
    failures = pd.read_csv(run / "extract" / "failures.tsv", sep="\t")
    assert set(failures["patient_id"]) <= set(exclusions(run)["case"])
    # the headline AUCs are the model stage's, to three decimals
    metrics = pd.read_csv(run / "model" / "metrics.tsv", sep="\t")
    best = json.loads((run / "model" / "model.json").read_text())["best"]
    headlines = next(b for b in glance_section(run).blocks if isinstance(b, HeadlineBlock)).items
    auc = next(h for h in headlines if h.label.endswith("(best)"))
    ext = metrics[(metrics["cohort"] == "external") & (metrics["model"] == best)].iloc[0]
    assert f"external {ext['auc']:.3f} ({ext['auc_low']:.3f}–{ext['auc_high']:.3f})" in auc.value
    sections, records = collect_sections(run)
    assert {h.target for h in headlines} <= {s.id for s in sections}
    # methods: settings and versions as recorded, not as assumed
    text = "\n".join(methods_paragraphs(run, records))
    k = json.loads((run / "habitats" / "stability.json").read_text())["k"]
    settings = yaml.safe_load((run / "model" / "extract_params.yaml").read_text())
    de = json.loads((run / "de" / "params.json").read_text())
    assert f"K = {k}" in text
    assert f"bin width of {settings['setting']['binWidth']} HU" in text
    assert f"PyDESeq2 {version('pydeseq2')} with design {de['design']}" in text
    assert f"gseapy {version('gseapy')}" in text and f"lifelines {version('lifelines')}" in text
    assert f"({de['n_genes_tested']} genes)" in text


def test_no_figure_of_a_run_carries_markup_that_the_escaping_would_show(tiny_run: Path) -> None:
    """Every string of a figure is escaped for the page, so markup written into a title, axis
    label or colour-bar title (``<br>``, ``<sup>``) would show as literal text."""
    import json

    from radiogenomics.report.html import collect_sections, figure_spec

    sections, _ = collect_sections(tiny_run / "runs" / "tiny")
    figures = [b for s in sections for b in s.blocks if isinstance(b, FigureBlock)]
    assert len(figures) > 20
    for block in figures:
        spec = figure_spec(block)
        layout = json.dumps(spec["layout"], ensure_ascii=False)
        traces = json.dumps([{k: v for k, v in t.items() if k in ("name", "colorbar", "marker")}
                             for t in spec["data"]], ensure_ascii=False)
        for text in (layout, traces):
            assert "&lt;br&gt;" not in text and "&lt;sup&gt;" not in text, (block.name, text[:300])


def test_hostile_gene_and_set_names_are_escaped_in_gsea_figures() -> None:
    from radiogenomics.expression.figures import nes_figure, running_es_figure

    hostile_set = "SET_<img src=x onerror=alert(1)>"
    hostile_gene = "</script><script>alert(2)</script>"
    sets = pd.DataFrame({"collection": ["c", "c"], "Term": [hostile_set, "SET_B"],
                         "NES": [2.0, -1.5], "FDR q-val": [0.01, 0.2], "NOM p-val": [0.001, 0.1],
                         "size": [20, 30], "Lead_genes": [hostile_gene, "G2"]})
    running = pd.DataFrame({"term": [hostile_set] * 3 + ["SET_B"] * 3, "rank": [1, 2, 3] * 2,
                            "gene": [hostile_gene, "G1", "G2"] * 2,
                            "running_es": [0.1, 0.3, 0.2, -0.1, -0.2, -0.1],
                            "hit": [True, False, True, False, True, True]})
    figs = [FigureBlock(nes_figure(sets, fdr=0.05, title="NES"), data=sets, name="nes"),
            FigureBlock(running_es_figure(running, sets, permutations=1000), data=running,
                        name="running")]
    html = render_report([Section("gsea", "GSEA", figs)], title="t")
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    payloads = re.findall(r'<script type="application/json" id="fig-\d+-json">(.*?)</script>',
                          html, flags=re.S)
    import json

    data = [json.loads(p) for p in payloads]
    # what Plotly receives is the escaped text, which it shows literally
    assert "SET_&lt;img src=x onerror=alert(1)&gt;" in data[0]["data"][0]["y"]
    labels = [b["label"] for b in data[1]["layout"]["updatemenus"][0]["buttons"]]
    assert labels[0] == "SET_&lt;img src=x onerror=alert(1)&gt;"
