"""End to end: every stage's wall time and peak memory, cold and warm, against the plain script.

    python benchmarks/run_all.py --scale demo [--work DIR] [--world DIR] [--skip-plain]
                                 [--stage-benchmarks] [--reuse]

1. A simulated world (``--world`` reuses one; simulation is timed apart).
2. Cold: the analysis run one stage at a time (``run --until STAGE`` in a fresh process each, so
   that each stage's peak memory is that process's maximum resident set), wall time per stage.
3. Warm: the same ``run`` again (every stage up to date), and a report-only change
   (``--set report.title=...``: only the report stage reruns).
4. ``benchmarks/plain_script.py`` on the same world: the serial script a user would otherwise
   write (pyradiomics loop, LASSO, PyDESeq2, gseapy, a ν-SVR deconvolution, lifelines).
5. ``--stage-benchmarks``: the ratios each stage's issue set, from the stage benchmarks on the
   same world and run: extraction against bare pyradiomics and 1 against 2 workers
   (``bench_extract.py``), DE against direct PyDESeq2 (``bench_de.py``, its own 500 × 20k data),
   GSEA against direct gseapy (``bench_gsea.py``), deconvolution against the CIBERSORT-style
   baseline (``bench_deconvolution.py``), report size and render time (``bench_report.py``).

``--reuse`` keeps what an earlier ``run_all.json`` in ``--work`` already measured (cold, warm,
plain script) and measures only what is missing.

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


def cold_and_warm(py: list[str], config: Path, work: Path, results: dict[str, object]) -> bool:
    """Cold (one stage per process), then a no-op rerun and a report-only change."""
    stages = []
    for stage in STAGES:
        wall, peak, _, code = timed([*py, "run", str(config), "--until", stage])
        if code:
            print(f"stage {stage} failed (exit {code})")
            return False
        record = json.loads((work / "run" / stage / "stage.json").read_text(encoding="utf-8"))
        stages.append({"stage": stage, "wall_s": wall, "stage_s": record["wall_time_s"],
                       "peak_gb": peak})
        print(f"cold {stage:<11} {wall:8.1f} s (stage {record['wall_time_s']:.1f} s), "
              f"peak {peak:.2f} GB", flush=True)
    results["stages"] = stages
    results["cold_s"] = sum(s["wall_s"] for s in stages)
    noop, _, _, _ = timed([*py, "run", str(config)])
    report_only, _, _, _ = timed([*py, "run", str(config), "--set",
                                  "report.title=Radiogenomics benchmark (title changed)"])
    results.update(noop_s=noop, report_only_s=report_only)
    print(f"warm no-op rerun {noop:.1f} s; report-only change {report_only:.1f} s", flush=True)
    return True


def stage_benchmarks(world: Path, run: Path) -> dict[str, list[str]]:
    """Each stage issue's ratios, from its benchmark script on this world and run (their own
    printed lines, kept as they are)."""
    bench = REPO / "benchmarks"
    gmts = sorted((world / "gene_sets").glob("*.gmt")) + sorted((run / "gsea").glob("*.gmt"))
    commands = {
        "extraction": [str(bench / "bench_extract.py"), "--world", str(world), "--cases", "100"],
        "DE": [str(bench / "bench_de.py"), "--repeats", "1"],
        "GSEA": [str(bench / "bench_gsea.py"), str(run), *map(str, gmts)],
        "deconvolution": [str(bench / "bench_deconvolution.py"), str(run),
                          "--cibersort-samples", "20", "--mixtures", "20"],
        "report": [str(bench / "bench_report.py"), str(run), "--repeats", "3"],
    }
    out: dict[str, list[str]] = {}
    for name, cmd in commands.items():
        wall, _, stdout, code = timed([sys.executable, *cmd])
        lines = [line for line in stdout.splitlines() if line.strip()]
        out[name] = lines if code == 0 else [*lines, f"(exit {code})"]
        print(f"\n## {name} ({Path(cmd[0]).name}, {wall:.0f} s)", flush=True)
        for line in out[name]:
            print(f"    {line}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "demo", "large"], default="demo")
    parser.add_argument("--work", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--world", type=Path)
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--stage-benchmarks", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "radiogenomics"]
    results: dict[str, object] = {"machine": f"{platform.node()}: {os.cpu_count()} CPUs, "
                                             f"Python {platform.python_version()}",
                                  "scale": args.scale}
    earlier = work / "run_all.json"
    if args.reuse and earlier.is_file():
        results.update(json.loads(earlier.read_text(encoding="utf-8")))

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

    if "stages" not in results:
        if not cold_and_warm(py, config, work, results):
            return 1
    stages = results["stages"]
    cold = results["cold_s"]
    noop, report_only = results["noop_s"], results["report_only_s"]

    if not args.skip_plain and "plain" not in results:
        wall, peak, out, code = timed([sys.executable, str(REPO / "benchmarks" / "plain_script.py"),
                                       str(world), "--params", str(params)])
        if code:
            return code
        steps = {line.split("\t")[0]: float(line.split("\t")[1]) for line in out.splitlines()
                 if "\t" in line and not line.startswith("#")}
        results["plain"] = {"wall_s": wall, "peak_gb": peak, "steps": steps}
        print(f"plain script {wall:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()),
              flush=True)

    if args.stage_benchmarks:
        results["stage_benchmarks"] = stage_benchmarks(world, work / "run")

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
