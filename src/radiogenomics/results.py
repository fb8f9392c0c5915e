"""Reading a finished run: the public API for scripts that build on a run directory.

>>> run = open_run("runs/demo")                       # doctest: +SKIP
>>> run.predictions().head()                          # doctest: +SKIP
>>> run.cell_fractions().join(run.habitat_fractions(), on="patient")   # doctest: +SKIP

Every accessor reads a table the pipeline wrote (never recomputes) and says which stage to run
when it is missing. Patient keys: ``patient_id`` for imaging tables, ``patient`` (TCGA patient
barcode) for transcriptome tables; for TCGA patients with CT the two are the same string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UserError

__all__ = ["Run", "open_run"]


@dataclass(frozen=True)
class Run:
    """A run directory written by ``radiogenomics run``."""

    path: Path

    def _file(self, stage: str, name: str) -> Path:
        path = self.path / stage / name
        if not path.is_file():
            msg = (f"{self.path}: no {stage}/{name}; run the pipeline through the '{stage}' stage "
                   "first")
            raise UserError(msg)
        return path

    def _tsv(self, stage: str, name: str, **kwargs: Any) -> pd.DataFrame:
        return pd.read_csv(self._file(stage, name), sep="\t", **kwargs)

    def predictions(self) -> pd.DataFrame:
        """Per imaging patient: cohort, centre, LNM, rad-score and each model's probability."""
        return self._tsv("model", "predictions.tsv", index_col=0, dtype={0: str})

    def model_record(self) -> dict[str, Any]:
        """The saved model's record: best model, thresholds, features, training patients."""
        return json.loads(self._file("model", "model.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def habitat_fractions(self) -> pd.DataFrame:
        """Per imaging patient (index ``patient_id``): the volume fraction of each habitat."""
        table = self._tsv("habitats", "habitats.tsv", dtype={"patient_id": str})
        cols = [c for c in table.columns if c.startswith("fraction_H")]
        return table.set_index("patient_id")[cols].rename(columns=lambda c: c.removeprefix("fraction_"))

    def linked(self) -> pd.DataFrame:
        """TCGA tumours with CT: barcode, patient, rad-score and high/low group."""
        return self._tsv("link", "linked.tsv", dtype=str).astype(
            {"rad_score": float, "rad_prob": float})

    def cell_fractions(self) -> pd.DataFrame:
        """Per deconvolved tumour (index ``sample``): ``patient`` and one column per cell type."""
        table = self._tsv("deconvolve", "fractions.tsv", dtype={"sample": str, "patient": str})
        return table.drop(columns=["rad_score", "rad_group"], errors="ignore").set_index("sample")

    def pathway_scores(self) -> pd.DataFrame:
        """Per linked tumour (index ``sample``): one score per gene set."""
        return self._tsv("gsea", "pathway_scores.tsv", index_col=0, dtype={0: str})

    def de_results(self) -> pd.DataFrame:
        """PyDESeq2 results per gene (index Ensembl ID): gene_name, log2FoldChange, padj, ..."""
        return self._tsv("de", "results.tsv", index_col=0, keep_default_na=False, na_values=[""])

    def gsea(self) -> pd.DataFrame:
        """GSEA per collection and set: NES, p, FDR, leading-edge genes."""
        return self._tsv("gsea", "gsea.tsv")

    def cox(self) -> pd.DataFrame:
        """Cox models per endpoint: coefficient, HR with 95% CI, p per covariate."""
        return self._tsv("survival", "cox.tsv")

    def score(self, cases: str | Path | pd.DataFrame, *, n_jobs: int = 2,
              executor: str = "process") -> tuple[pd.DataFrame, pd.DataFrame]:
        """Score new patients with the run's saved model (extraction, habitats, rad-score and
        every model's probability), exactly as the training patients were scored.

        ``cases`` is a case table (path or DataFrame with ``patient_id, image, mask`` and the
        model's clinical columns). Returns the predictions and the cases that failed.
        """
        from .imaging.stage import read_cases
        from .model.predict import predict_cases

        table = read_cases(cases) if not isinstance(cases, pd.DataFrame) else cases
        return predict_cases(self.path / "model", table, n_jobs=n_jobs, executor=executor)


def open_run(path: str | Path) -> Run:
    """A finished (or partly finished) run directory."""
    path = Path(path)
    if not path.is_dir() or not any((path / s / "stage.json").is_file() for s in ("simulate", "extract", "model")):
        msg = f"{path}: not a run directory (no stage has finished in it)"
        raise UserError(msg)
    return Run(path)
