"""End to end: every stage's wall time and peak memory, cold and warm, against the plain script.

    python benchmarks/run_all.py --scale demo [--work DIR] [--world DIR] [--skip-plain]

1. A simulated world (``--world`` reuses one; simulation is timed apart).
2. Cold: the analysis run one stage at a time (``run --until STAGE`` in a fresh process each, so
   that each stage's peak memory is that process's maximum resident set), wall time per stage.
3. Warm: the same ``run`` again (every stage up to date), and a report-only change
   (``--set report.title=...``: only the report stage reruns).
4. ``benchmarks/plain_script.py`` on the same world: the serial script a user would otherwise
   write (pyradiomics loop, LASSO, PyDESeq2, gseapy, a ν-SVR deconvolution, lifelines).

Prints a table and the ratios the issues set as targets (cold ≥ 1.8× faster than the plain
script; no-op rerun ≤ 2% of cold; report-only change ≤ 10% of cold; the suite's overhead over
the library time for the same extraction and DE ≤ 15%), and writes them as JSON into ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("simulate", "extract", "habitats", "robustness", "model", "ingest", "link", "de",
          "gsea", "deconvolve", "survival", "report")
TINY = """
extract: {{params: {params_fast}}}
habitats: {{bootstrap: 20}}
robustness: {{patients: 12}}
model: {{folds: 3, bootstrap: 200}}
"""


def timed(cmd: list[str]) -> tuple[float, float, str, int]:
    """Run ``cmd``; return wall seconds, peak resident memory (GB) of the process and its
    workers (``wait4``'s maximum resident set: the largest of the process and its children),
    its stdout and its exit code."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.stderr.write(stderr[-3000:])
    return wall, usage.ru_maxrss / 1e6, stdout, proc.returncode  # ru_maxrss is in kB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "demo", "large"], default="demo")
    parser.add_argument("--work", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--world", type=Path)
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "radiogenomics"]
    results: dict[str, object] = {"machine": f"{platform.node()}: {os.cpu_count()} CPUs, "
                                             f"Python {platform.python_version()}",
                                  "scale": args.scale}

    world = args.world.resolve() if args.world else work / "world"
    if not (world / "truth" / "summary.json").is_file():
        wall, _, _, code = timed([*py, "simulate", str(world), "--scale", args.scale])
        if code:
            return code
        results["simulate_world_s"] = wall
        print(f"world simulated in {wall:.0f} s → {world}", flush=True)

    params = REPO / "analyses" / "params" / "ct.yaml"
    config = work / "analysis.yaml"
    text = (f"name: bench\nrun_dir: {work / 'run'}\nsimulate: {{path: {world}}}\n"
            f"report: {{output: {work / 'report' / 'index.html'}}}\n")
    if args.scale == "tiny":
        params = REPO / "analyses" / "params" / "ct_fast.yaml"
        text += TINY.format(params_fast=params)
    else:
        text += f"extract: {{params: {params}}}\n"
    config.write_text(text, encoding="utf-8")

    # cold, one stage per process
    stages = []
    for stage in STAGES:
        wall, peak, _, code = timed([*py, "run", str(config), "--until", stage])
        if code:
            print(f"stage {stage} failed (exit {code})")
            return code
        record = json.loads((work / "run" / stage / "stage.json").read_text(encoding="utf-8"))
        stages.append({"stage": stage, "wall_s": wall, "stage_s": record["wall_time_s"],
                       "peak_gb": peak})
        print(f"cold {stage:<11} {wall:8.1f} s (stage {record['wall_time_s']:.1f} s), "
              f"peak {peak:.2f} GB", flush=True)
    cold = sum(s["wall_s"] for s in stages)
    results["stages"] = stages
    results["cold_s"] = cold

    noop, _, _, _ = timed([*py, "run", str(config)])
    report_only, _, _, _ = timed([*py, "run", str(config), "--set",
                                  "report.title=Radiogenomics benchmark (title changed)"])
    results.update(noop_s=noop, report_only_s=report_only)
    print(f"warm no-op rerun {noop:.1f} s; report-only change {report_only:.1f} s", flush=True)

    if not args.skip_plain:
        wall, peak, out, code = timed([sys.executable, str(REPO / "benchmarks" / "plain_script.py"),
                                       str(world), "--params", str(params)])
        if code:
            return code
        steps = {line.split("\t")[0]: float(line.split("\t")[1]) for line in out.splitlines()
                 if "\t" in line and not line.startswith("#")}
        results["plain"] = {"wall_s": wall, "peak_gb": peak, "steps": steps}
        print(f"plain script {wall:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()),
              flush=True)

    # the table
    print()
    print(f"Machine: {results['machine']}; scale {args.scale}")
    print()
    print("| stage | cold wall (s) | of which the stage (s) | peak memory (GB) |")
    print("|---|---|---|---|")
    for s in stages:
        print(f"| {s['stage']} | {s['wall_s']:.1f} | {s['stage_s']:.1f} | {s['peak_gb']:.2f} |")
    print(f"| **all** | **{cold:.0f}** | {sum(s['stage_s'] for s in stages):.0f} | "
          f"{max(s['peak_gb'] for s in stages):.2f} |")
    print()
    ratios = {"no-op rerun / cold": (noop / cold, "≤ 0.02"),
              "report-only change / cold": (report_only / cold, "≤ 0.10")}
    if "plain" in results:
        plain = results["plain"]
        ratios["plain script / cold (speed-up)"] = (plain["wall_s"] / cold, "≥ 1.8")  # type: ignore[index]
        by = {s["stage"]: s["stage_s"] for s in stages}
        library = (plain["steps"]["pyradiomics loop"] / (os.cpu_count() or 1)  # type: ignore[index]
                   + plain["steps"]["PyDESeq2"])  # type: ignore[index]
        ratios["suite extract + DE / library time - 1 (overhead)"] = (
            (by["extract"] + by["de"]) / library - 1, "≤ 0.15")
    print("| ratio | measured | target |")
    print("|---|---|---|")
    for name, (value, target) in ratios.items():
        print(f"| {name} | {value:.3f} | {target} |")
    results["ratios"] = {k: v[0] for k, v in ratios.items()}
    (work / "run_all.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
