"""Score new patients with the model a run trained: rad-score and risk of occult LNM.

    python analyses/score_new_patients.py RUN_DIR CASES.tsv [--out scores.tsv]

``CASES.tsv`` is a case table like the training one (``patient_id, image, mask`` with paths
relative to the table, and the model's clinical columns). Uses only the public API: the saved
model is applied unchanged (same extraction settings, habitat model, scaler, features and
thresholds), exactly as it was to the internal and external cohorts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import radiogenomics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("cases", type=Path)
    parser.add_argument("--out", type=Path, default=Path("scores.tsv"))
    args = parser.parse_args()
    run = radiogenomics.open_run(args.run_dir)
    best = run.model_record()["best"]
    scores, failures = run.score(args.cases)
    shown = scores[["rad_score", f"{best}_prob", f"{best}_group"]]
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    for row in failures.itertuples():
        print(f"not scored: {row.patient_id}: {row.reason}")
    scores.to_csv(args.out, sep="\t")
    print(f"{len(scores)} scored, {len(failures)} failed → {args.out}")


if __name__ == "__main__":
    main()
