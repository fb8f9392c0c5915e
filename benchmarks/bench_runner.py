"""Runner overhead: a no-op rerun (every stage up to date) against the cold run.

Usage: ``python benchmarks/bench_runner.py [--scale tiny|demo] [--repeat 5]``

Prints the cold wall time, the no-op rerun time through the API and through the command line,
and the ratio no-op / cold. Targets: no-op rerun under 2 s of runner overhead, and at most 2% of
the cold time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from radiogenomics.config import load_config
from radiogenomics.pipeline import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "demo"], default="tiny")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = Path(tmp) / "bench.yaml"
        cfg_path.write_text(
            f"name: bench\nrun_dir: run\nsimulate:\n  scale: {args.scale}\n  seed: 1\n"
            "report:\n  output: report.html\n", encoding="utf-8")
        cfg = load_config(cfg_path)
        start = time.perf_counter()
        run(cfg)
        cold = time.perf_counter() - start
        api = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            outcome = run(cfg)
            api.append(time.perf_counter() - start)
            assert set(outcome.values()) == {"skipped"}, outcome
        cli = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "radiogenomics", "run", str(cfg_path)],
                           check=True, capture_output=True)
            cli.append(time.perf_counter() - start)
    api_s, cli_s = statistics.median(api), statistics.median(cli)
    print(f"scale={args.scale} cold run: {cold:.2f} s")
    print(f"no-op rerun, API (median of {args.repeat}): {api_s * 1000:.1f} ms "
          f"= {100 * api_s / cold:.2f}% of cold (target <= 2%)")
    print(f"no-op rerun, CLI incl. interpreter start (median of {args.repeat}): {cli_s:.2f} s "
          f"(target < 2 s)")


if __name__ == "__main__":
    main()
