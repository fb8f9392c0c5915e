"""The bad-input corpus (tests/bad_inputs): every hostile or broken input gets its exact outcome."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "bad_inputs"))

from corpus import CASES, HERE, Case, readme  # noqa: E402

from radiogenomics.cli import main  # noqa: E402
from radiogenomics.errors import UserError  # noqa: E402


def test_the_corpus_is_large_and_its_table_is_current() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    assert (HERE / "README.md").read_text(encoding="utf-8") == readme(), \
        "run: python tests/bad_inputs/corpus.py"


def _leftovers(folder: Path | None) -> list[str]:
    """Temporary files the atomic writers would leave if interrupted."""
    if folder is None or not folder.exists():
        return []
    return [str(p) for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name
            or p.name.startswith(".export-")]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, tiny_world: Path, capsys) -> None:
    inv = case.build(tmp_path, {"tiny": tiny_world})
    try:
        if case.outcome == "api":
            with pytest.raises(UserError) as info:
                inv.call()
            for message in case.messages:
                assert message in str(info.value)
            return
        code = main(inv.argv)
    finally:
        if inv.cleanup is not None:
            inv.cleanup()
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    assert _leftovers(inv.out) == []
    if case.outcome == "exit 2":
        assert code == 2, (out, err)
        text = err + out
        for message in case.messages:
            assert message in text, (message, text)
        for name in case.absent:
            assert not (inv.out / name).exists(), name
        return
    assert case.outcome == "batch"
    assert code == 0, err
    failures = pd.read_csv(inv.out / "failures.tsv", sep="\t", dtype=str, keep_default_na=False)
    reasons = " ".join(failures["reason"])
    for message in case.messages:
        assert message in reasons, (message, reasons)
    if case.group in ("imaging", "dicom"):
        assert failures["patient_id"].tolist() == [case.failed_case]
        import anndata as ad

        adata = ad.read_h5ad(inv.out / "radiomics.h5ad")
        assert list(adata.obs_names) == list(case.present)
    else:  # transcriptome: one sample fails, the others are assembled
        import anndata as ad

        assert len(failures) == 1
        bulk = ad.read_h5ad(inv.out / "bulk.h5ad")
        assert bulk.n_obs > 10
