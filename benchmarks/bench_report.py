"""The report in a browser: file size, build time, time to all figures drawn, and screenshots.

    python benchmarks/bench_report.py RUN_DIR [--repeats 3] [--screenshots DIR]

Builds the run's report into a temporary file (timing it), opens it in headless Debian Chromium
from ``file://`` and reads, from the page, the time from navigation start to the figures near
the first screen being drawn and to every figure being drawn (the report's script records both
on ``<body>``; median of ``--repeats`` fresh page loads). Network requests other
than ``file:``/``data:``/``blob:`` are refused and counted. With ``--screenshots`` it writes one
1440×900 screenshot per section (``NN_<section>.png``) for a person to look at the layout.
Targets (issue #11): the demo report ≤ 15 MB, all figures drawn ≤ 3 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from radiogenomics.report import build_report

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def measure(html: Path, repeats: int, screenshots: Path | None) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    times, first, refused, errors = [], [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for i in range(repeats):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def route(r, req) -> None:  # noqa: ANN001
                if req.url.startswith(("file:", "data:", "blob:")):
                    r.continue_()
                else:
                    refused.append(req.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(html.as_uri(), wait_until="commit", timeout=120_000)
            # poll every 100 ms: Playwright's per-frame selector polling would itself take
            # the page's main thread for about 0.4 s while the figures draw
            page.wait_for_function("document.body && document.body.hasAttribute('data-drawn-ms')",
                                   polling=100, timeout=120_000)
            times.append(int(page.get_attribute("body", "data-drawn-ms")) / 1000.0)
            first.append(int(page.get_attribute("body", "data-first-screen-ms")) / 1000.0)
            n_plots = page.locator("div.plot").count()
            if i == 0:  # each figure's own drawing time, with its section and title
                slowest = page.eval_on_selector_all(
                    "div.plot[data-draw-ms]",
                    "els => els.map(e => [Number(e.getAttribute('data-draw-ms')),"
                    " (e.closest('section') || {}).id || '',"
                    " ((e.closest('figure') || e).querySelector('.gtitle') || {}).textContent || e.id])")
            if screenshots is not None and i == 0:
                screenshots.mkdir(parents=True, exist_ok=True)
                ids = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
                for k, sid in enumerate(ids, 1):
                    page.evaluate("id => { document.getElementById(id).scrollIntoView(); "
                                  "window.scrollBy(0, -document.querySelector('header').offsetHeight); }",
                                  sid)
                    page.wait_for_timeout(300)
                    page.screenshot(path=str(screenshots / f"{k:02d}_{sid}.png"))
            page.close()
        browser.close()
    return {"times": times, "first": first, "refused": refused, "errors": errors,
            "plots": n_plots, "per_figure": sorted(slowest, reverse=True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "index.html"
        start = time.perf_counter()
        build_report(args.run_dir, html)
        built = time.perf_counter() - start
        size = html.stat().st_size / 1e6
        result = measure(html, args.repeats, args.screenshots)
    times = result["times"]
    print(f"report of {args.run_dir}")
    print(f"  build            {built:6.1f} s")
    print(f"  size             {size:6.2f} MB   (target ≤ 15 MB)")
    print(f"  figures          {result['plots']}")
    print(f"  first screen     {statistics.median(result['first']):6.2f} s median of {len(times)}")
    print(f"  all figures drawn {statistics.median(times):5.2f} s median of {len(times)} "
          f"({', '.join(f'{t:.2f}' for t in times)})   (target ≤ 3 s)")
    per_figure = result["per_figure"]
    print(f"  drawing per figure (first load): sum {sum(p[0] for p in per_figure) / 1000:.2f} s; "
          "slowest:")
    for ms, section, title in per_figure[:8]:
        print(f"    {ms:6d} ms  {section:<14} {title[:70]}")
    print(f"  refused requests {len(result['refused'])}   console errors {len(result['errors'])}")
    for line in result["errors"][:5]:
        print(f"    error: {line}")
    if args.screenshots:
        print(f"  screenshots      {args.screenshots}")
    return 0 if not result["refused"] and not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
