"""The bad-input corpus: hostile or broken inputs built on the fly, each with its exact outcome.

Nothing here is a committed binary: every case writes its inputs into a fresh folder from a small
phantom, a copy of the tiny simulated world's GDC download, or a few lines of text, and says what
the command line must do with them:

- ``exit 2``: one message on stderr naming the file, field or value (``messages``, each a
  substring), no traceback, and no artefact under a final name (``absent``);
- ``batch``: exit 0; the bad case is a row of ``failures.tsv`` with the reason (``messages``) and
  the good cases are complete (``present``);
- ``api``: a parser without a command of its own raises ``UserError`` with ``messages``.

``python tests/bad_inputs/corpus.py`` rewrites ``tests/bad_inputs/README.md`` (the table of cases);
a test checks that the committed table is current.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FAST_PARAMS = REPO / "analyses" / "params" / "ct_fast.yaml"


@dataclass
class Invocation:
    """What a case runs: command-line arguments, or a Python call for ``api`` cases."""

    argv: list[str] = field(default_factory=list)
    call: Callable[[], Any] | None = None
    out: Path | None = None  # the output folder the command writes into
    cleanup: Callable[[], None] | None = None  # e.g. stop a local server


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    what: str
    outcome: str  # "exit 2" | "batch" | "api"
    messages: tuple[str, ...]
    build: Callable[[Path, dict[str, Path]], Invocation]
    failed_case: str = ""  # batch: the ID that must be in failures.tsv
    present: tuple[str, ...] = ()  # batch: IDs that must have been processed
    absent: tuple[str, ...] = ()  # files (relative to the output folder) that must not exist


# ---- imaging --------------------------------------------------------------------------------
def _phantom_case(root: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    from imaging_fixtures import phantom, write_nrrd

    image, mask = phantom()
    return write_nrrd(root / "good" / "image.nrrd", image), write_nrrd(root / "good" / "mask.nrrd", mask), image, mask


def _extract(root: Path, bad_image: str, bad_mask: str, *, extra: str = "") -> Invocation:
    """A two-case extraction: P1 good, P2 with the given image and mask (relative paths)."""
    _phantom_case(root)
    (root / "cases.tsv").write_text(
        "patient_id\timage\tmask\n"
        "P1\tgood/image.nrrd\tgood/mask.nrrd\n"
        f"P2\t{bad_image}\t{bad_mask}\n" + extra, encoding="utf-8")
    out = root / "out"
    return Invocation(["extract", str(root / "cases.tsv"), "--out", str(out), "--params",
                       str(FAST_PARAMS), "--executor", "serial", "--max-failure-fraction", "0.6"],
                      out=out)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def truncated_nrrd(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom, write_nrrd

    image, _mask = phantom(1)
    path = write_nrrd(root / "bad" / "image.nrrd", image)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return _extract(root, "bad/image.nrrd", "good/mask.nrrd")


def garbage_nrrd(root: Path, _: dict[str, Path]) -> Invocation:
    _write(root / "bad" / "image.nrrd", np.random.default_rng(0).bytes(5000))
    return _extract(root, "bad/image.nrrd", "good/mask.nrrd")


def nrrd_header_only(root: Path, _: dict[str, Path]) -> Invocation:
    _write(root / "bad" / "image.nrrd", b"NRRD0004\ntype: short\ndimension: 3\nsizes: 32 32 32\n"
           b"encoding: raw\n\n")
    return _extract(root, "bad/image.nrrd", "good/mask.nrrd")


def truncated_nifti(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom, write_nrrd

    path = write_nrrd(root / "bad" / "image.nii.gz", phantom(2)[0])  # same geometry as the mask
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    return _extract(root, "bad/image.nii.gz", "good/mask.nrrd")


def garbage_nifti(root: Path, _: dict[str, Path]) -> Invocation:
    _write(root / "bad" / "image.nii", b"\x5c\x01\x00\x00" + np.random.default_rng(1).bytes(400))
    return _extract(root, "bad/image.nii", "good/mask.nrrd")


def _dicom(root: Path, seed: int = 3) -> Path:
    from imaging_fixtures import phantom, write_dicom

    image, _mask = phantom(seed)
    folder = root / "bad" / "dicom"
    folder.mkdir(parents=True)
    write_dicom(folder, image, key=f"bad{seed}", seed=seed)
    return folder


def _dicom_files_by_position(folder: Path) -> list[Path]:
    import pydicom

    files = [f for f in folder.iterdir() if f.is_file()]
    return sorted(files, key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True)
                                             .ImagePositionPatient[2]))


def dicom_missing_slice(root: Path, _: dict[str, Path]) -> Invocation:
    folder = _dicom(root)
    _dicom_files_by_position(folder)[15].unlink()
    return _extract(root, "bad/dicom", "good/mask.nrrd")


def dicom_mixed_series(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom, write_dicom

    folder = _dicom(root)
    other = root / "other"
    other.mkdir()
    write_dicom(other, phantom(4)[0], key="other", seed=4)
    for f in other.iterdir():
        shutil.move(str(f), folder / f"x{f.name}")
    return _extract(root, "bad/dicom", "good/mask.nrrd")


def dicom_nonuniform_spacing(root: Path, _: dict[str, Path]) -> Invocation:
    import pydicom

    folder = _dicom(root)
    victim = _dicom_files_by_position(folder)[10]
    ds = pydicom.dcmread(victim)
    pos = [float(v) for v in ds.ImagePositionPatient]
    ds.ImagePositionPatient = [pos[0], pos[1], pos[2] + 0.9]
    ds.save_as(victim, enforce_file_format=True)
    return _extract(root, "bad/dicom", "good/mask.nrrd")


def dicom_missing_rescale(root: Path, _: dict[str, Path]) -> Invocation:
    import pydicom

    folder = _dicom(root)
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        del ds.RescaleIntercept
        ds.save_as(f, enforce_file_format=True)
    return _extract(root, "bad/dicom", "good/mask.nrrd")


def dicom_empty_folder(root: Path, _: dict[str, Path]) -> Invocation:
    (root / "bad" / "dicom").mkdir(parents=True)
    _write(root / "bad" / "dicom" / "notes.txt", b"not a DICOM file\n")
    return _extract(root, "bad/dicom", "good/mask.nrrd")


def _bad_mask(root: Path, mask: np.ndarray, **geometry: Any) -> Invocation:
    from imaging_fixtures import write_nrrd

    write_nrrd(root / "bad" / "mask.nrrd", mask, **geometry)
    return _extract(root, "good/image.nrrd", "bad/mask.nrrd")


def mask_geometry_mismatch(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import ORIGIN, phantom

    return _bad_mask(root, phantom()[1], origin=(ORIGIN[0] + 6.0, ORIGIN[1], ORIGIN[2]))


def mask_wrong_size(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom

    return _bad_mask(root, phantom()[1][:, :20, :])


def mask_empty(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom

    return _bad_mask(root, np.zeros_like(phantom()[1]))


def mask_unexpected_label(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom

    return _bad_mask(root, phantom()[1] * 3)


def mask_single_voxel(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom

    mask = np.zeros_like(phantom()[1])
    mask[16, 16, 16] = 1
    return _bad_mask(root, mask)


def _bad_image(root: Path, image: np.ndarray) -> Invocation:
    from imaging_fixtures import write_nrrd

    write_nrrd(root / "bad" / "image.nrrd", image)
    return _extract(root, "bad/image.nrrd", "good/mask.nrrd")


def image_nan_voxels(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom

    image = phantom()[0].astype(np.float32)
    image[16, 14:18, 14:18] = np.nan
    return _bad_image(root, image)


def image_inf_voxels(root: Path, _: dict[str, Path]) -> Invocation:
    from imaging_fixtures import phantom

    image = phantom()[0].astype(np.float32)
    image[15, 15, 15] = np.inf
    return _bad_image(root, image)


def image_missing(root: Path, _: dict[str, Path]) -> Invocation:
    return _extract(root, "bad/nowhere.nrrd", "good/mask.nrrd")


def image_is_a_text_file(root: Path, _: dict[str, Path]) -> Invocation:
    _write(root / "bad" / "image.nrrd", b"patient_id\timage\n")
    return _extract(root, "bad/image.nrrd", "good/mask.nrrd")


def cases_missing_column(root: Path, _: dict[str, Path]) -> Invocation:
    _phantom_case(root)
    (root / "cases.tsv").write_text("patient_id\timage\nP1\tgood/image.nrrd\n", encoding="utf-8")
    out = root / "out"
    return Invocation(["extract", str(root / "cases.tsv"), "--out", str(out)], out=out)


def cases_duplicated_ids(root: Path, _: dict[str, Path]) -> Invocation:
    _phantom_case(root)
    (root / "cases.tsv").write_text(
        "patient_id\timage\tmask\nP1\tgood/image.nrrd\tgood/mask.nrrd\n"
        "P1\tgood/image.nrrd\tgood/mask.nrrd\n", encoding="utf-8")
    out = root / "out"
    return Invocation(["extract", str(root / "cases.tsv"), "--out", str(out)], out=out)


def cases_binary_garbage(root: Path, _: dict[str, Path]) -> Invocation:
    _write(root / "cases.tsv", np.random.default_rng(5).bytes(3000))
    out = root / "out"
    return Invocation(["extract", str(root / "cases.tsv"), "--out", str(out)], out=out)


# ---- the transcriptome (a copy of the tiny world's GDC download) -------------------------------
def _gdc(root: Path, worlds: dict[str, Path]) -> Path:
    target = root / "gdc"
    shutil.copytree(worlds["tiny"] / "gdc", target)
    return target


def _ingest(root: Path, gdc: Path) -> Invocation:
    out = root / "out"
    return Invocation(["ingest", str(gdc), "--out", str(out)], out=out)


def _sheet(gdc: Path):  # noqa: ANN202
    import pandas as pd

    return pd.read_csv(gdc / "gdc_sample_sheet.tsv", sep="\t", dtype=str, keep_default_na=False)


def _counts_file(gdc: Path, row: int = 0) -> tuple[Path, str]:
    sheet = _sheet(gdc)
    rec = sheet.iloc[row]
    return gdc / "counts" / rec["File ID"] / rec["File Name"], rec["Sample ID"]


def _edit_counts(gdc: Path, edit: Callable[[list[str]], list[str]]) -> str:
    path, sample = _counts_file(gdc)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(edit(lines)), encoding="utf-8")
    return sample


def _set_field(line: str, column: int, value: str) -> str:
    parts = line.rstrip("\n").split("\t")
    parts[column] = value
    return "\t".join(parts) + "\n"


def counts_negative(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    _edit_counts(gdc, lambda ls: [*ls[:8], _set_field(ls[8], 3, "-5"), *ls[9:]])
    return _ingest(root, gdc)


def counts_non_integer(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    _edit_counts(gdc, lambda ls: [*ls[:8], _set_field(ls[8], 3, "12.5"), *ls[9:]])
    return _ingest(root, gdc)


def counts_missing_column(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)

    def drop(lines: list[str]) -> list[str]:
        return [lines[0]] + ["\t".join(p for i, p in enumerate(line.rstrip("\n").split("\t"))
                                       if i != 3) + "\n" for line in lines[1:]]

    _edit_counts(gdc, drop)
    return _ingest(root, gdc)


def counts_duplicated_gene(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    _edit_counts(gdc, lambda ls: [*ls[:9], ls[8], *ls[9:]])
    return _ingest(root, gdc)


def counts_empty_file(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    _counts_file(gdc)[0].write_bytes(b"")
    return _ingest(root, gdc)


def sheet_duplicated_file_id(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    path = gdc / "gdc_sample_sheet.tsv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join([*lines, lines[1]]), encoding="utf-8")
    return _ingest(root, gdc)


def sheet_unknown_file(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    path = gdc / "gdc_sample_sheet.tsv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    parts = lines[1].split("\t")
    parts[0] = "99999999-0000-4000-8000-000000000000"
    parts[1] = "missing.rna_seq.augmented_star_gene_counts.tsv"
    path.write_text("".join([*lines, "\t".join(parts)]), encoding="utf-8")
    return _ingest(root, gdc)


def metadata_malformed_barcode(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    path = gdc / "metadata.cart.json"
    files = json.loads(path.read_text(encoding="utf-8"))
    files[0]["associated_entities"][0]["entity_submitter_id"] = "TCGA-XX-01A"
    path.write_text(json.dumps(files), encoding="utf-8")
    return _ingest(root, gdc)


def sheet_missing_column(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    path = gdc / "gdc_sample_sheet.tsv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join("\t".join(line.rstrip("\n").split("\t")[:6]) + "\n" for line in lines),
                    encoding="utf-8")
    return _ingest(root, gdc)


def clinical_only_dashes(root: Path, worlds: dict[str, Path]) -> Invocation:
    gdc = _gdc(root, worlds)
    path = gdc / "clinical.tsv"
    header = path.read_text(encoding="utf-8").splitlines()[0]
    n = len(header.split("\t"))
    path.write_text(header + "\n" + "\t".join(["'--"] * n) + "\n" + "\t".join(["'--"] * n) + "\n",
                    encoding="utf-8")
    return _ingest(root, gdc)


def _manifest(root: Path, rows: list[str]) -> Path:
    path = root / "gdc_manifest.txt"
    path.write_bytes(("id\tfilename\tmd5\tsize\tstate\n" + "".join(rows)).encode("utf-8"))
    return path


def _verify(root: Path, manifest: Path, folder: Path | None = None) -> Invocation:
    folder = folder or root / "dl"
    folder.mkdir(exist_ok=True)
    return Invocation(["verify", str(manifest), str(folder)])


_ID1 = "11111111-aaaa-4aaa-8aaa-000000000001"


def manifest_dotdot(root: Path, _: dict[str, Path]) -> Invocation:
    return _verify(root, _manifest(root, [f"{_ID1}\t../../etc/passwd\t{'0' * 32}\t10\treleased\n"]))


def manifest_absolute(root: Path, _: dict[str, Path]) -> Invocation:
    return _verify(root, _manifest(root, [f"{_ID1}\t/etc/passwd\t{'0' * 32}\t10\treleased\n"]))


def manifest_nul(root: Path, _: dict[str, Path]) -> Invocation:
    path = root / "gdc_manifest.txt"
    path.write_bytes(b"id\tfilename\tmd5\tsize\tstate\n" + _ID1.encode() + b"\ta\x00b.tsv\t"
                     + b"0" * 32 + b"\t10\treleased\n")
    return _verify(root, path)


def manifest_duplicated_id(root: Path, _: dict[str, Path]) -> Invocation:
    row = f"{_ID1}\ta.tsv\t{'0' * 32}\t10\treleased\n"
    return _verify(root, _manifest(root, [row, row.replace("a.tsv", "b.tsv")]))


def manifest_missing_column(root: Path, _: dict[str, Path]) -> Invocation:
    path = root / "gdc_manifest.txt"
    path.write_text(f"id\tfilename\n{_ID1}\ta.tsv\n", encoding="utf-8")
    return _verify(root, path)


def manifest_md5_mismatch(root: Path, _: dict[str, Path]) -> Invocation:
    folder = root / "dl"
    _write(folder / _ID1 / "a.tsv", b"0123456789")
    return _verify(root, _manifest(root, [f"{_ID1}\ta.tsv\t{'f' * 32}\t10\treleased\n"]), folder)


def download_gzip_bomb(root: Path, _: dict[str, Path]) -> Invocation:
    """A server that answers with a gzip bomb (100 MB of zeros in ~100 kB) instead of the file."""
    from gdc_server import GDCServer, ServedFile

    real = b"gene_id\tunstranded\n" + b"ENSG00000000003.15\t12\n" * 50
    bomb = gzip.compress(b"\0" * 100_000_000, compresslevel=9)
    served = ServedFile(_ID1, "a.counts.tsv", bomb, md5=hashlib.md5(real).hexdigest())  # noqa: S324
    server = GDCServer([served])
    url = server.start()
    manifest = _manifest(root, [f"{_ID1}\ta.counts.tsv\t{hashlib.md5(real).hexdigest()}\t"  # noqa: S324
                                f"{len(real)}\treleased\n"])
    out = root / "dl"
    return Invocation(["fetch", str(manifest), "--out", str(out), "--api", url, "--retries", "0"],
                      out=out, cleanup=server.stop)


# ---- configs -----------------------------------------------------------------------------------
def _config(root: Path, text: str) -> Invocation:
    path = root / "analysis.yaml"
    path.write_text(text, encoding="utf-8")
    return Invocation(["status", str(path)])


def yaml_unknown_key(root: Path, _: dict[str, Path]) -> Invocation:
    return _config(root, "name: x\nmodel:\n  foldz: 3\n")


def yaml_wrong_type(root: Path, _: dict[str, Path]) -> Invocation:
    return _config(root, "name: x\nmodel:\n  folds: many\n")


def yaml_python_tag(root: Path, _: dict[str, Path]) -> Invocation:
    return _config(root, "name: x\ndescription: !!python/object/apply:os.system ['echo owned']\n")


def yaml_syntax_error(root: Path, _: dict[str, Path]) -> Invocation:
    return _config(root, "name: x\nmodel: [folds: 3\n")


def yaml_not_a_mapping(root: Path, _: dict[str, Path]) -> Invocation:
    return _config(root, "- name: x\n")


def yaml_bad_name(root: Path, _: dict[str, Path]) -> Invocation:
    return _config(root, "name: ../../etc\n")


# ---- single-cell reference, gene sets, survival ----------------------------------------------------
def h5ad_missing_cell_type(root: Path, worlds: dict[str, Path]) -> Invocation:
    import anndata as ad

    ref = ad.read_h5ad(worlds["tiny"] / "reference" / "reference.h5ad")
    del ref.obs["cell_type"]
    ref.write_h5ad(root / "reference.h5ad")
    return Invocation(["deconvolution-benchmark", "--reference", str(root / "reference.h5ad"),
                       "--out", str(root / "out")], out=root / "out")


def h5ad_garbage(root: Path, _: dict[str, Path]) -> Invocation:
    _write(root / "reference.h5ad", b"\x89HDF\r\n\x1a\n" + np.random.default_rng(7).bytes(2000))
    return Invocation(["deconvolution-benchmark", "--reference", str(root / "reference.h5ad"),
                       "--out", str(root / "out")], out=root / "out")


def gmt_empty_set(root: Path, _: dict[str, Path]) -> Invocation:
    from radiogenomics.io import read_gmt

    path = _write(root / "sets.gmt", b"SET_A\tna\tG1\tG2\tG3\nSET_EMPTY\tna\n")
    return Invocation(call=lambda: read_gmt(path))


def gmt_duplicated_name(root: Path, _: dict[str, Path]) -> Invocation:
    from radiogenomics.io import read_gmt

    path = _write(root / "sets.gmt", b"SET_A\tna\tG1\tG2\nSET_A\tna\tG3\tG4\n")
    return Invocation(call=lambda: read_gmt(path))


def _survival(**columns: list[Any]) -> Callable[[], Any]:
    import pandas as pd

    from radiogenomics.survival import check_survival

    return lambda: check_survival(pd.DataFrame(columns), "OS_time", "OS")


def survival_negative_time(root: Path, _: dict[str, Path]) -> Invocation:
    return Invocation(call=_survival(OS_time=[10.0, -3.0, 5.0], OS=[1, 0, 1]))


def survival_missing_time(root: Path, _: dict[str, Path]) -> Invocation:
    return Invocation(call=_survival(OS_time=[10.0, float("nan"), float("nan")], OS=[1, 0, 1]))


def survival_all_censored(root: Path, _: dict[str, Path]) -> Invocation:
    return Invocation(call=_survival(OS_time=[10.0, 3.0, 5.0], OS=[0, 0, 0]))


def survival_bad_event_code(root: Path, _: dict[str, Path]) -> Invocation:
    return Invocation(call=_survival(OS_time=[10.0, 3.0, 5.0], OS=[1, 2, 0]))


def _imaging(name: str, what: str, messages: tuple[str, ...], build: Callable[..., Invocation],
             group: str = "imaging") -> Case:
    return Case(name, group, what, "batch", messages, build, failed_case="P2", present=("P1",))


CASES: list[Case] = [
    _imaging("truncated_nrrd", "NRRD cut to half its size", ("bad/image.nrrd",), truncated_nrrd),
    _imaging("garbage_nrrd", "random bytes named .nrrd", ("bad/image.nrrd",), garbage_nrrd),
    _imaging("nrrd_header_only", "an NRRD header without data", ("bad/image.nrrd",), nrrd_header_only),
    _imaging("truncated_nifti", "gzipped NIfTI cut to a third", ("bad/image.nii.gz",), truncated_nifti),
    _imaging("garbage_nifti", "random bytes named .nii", ("bad/image.nii",), garbage_nifti),
    _imaging("dicom_missing_slice", "a CT series with a slice removed", ("missing", "slice"),
             dicom_missing_slice, "dicom"),
    _imaging("dicom_mixed_series", "two CT series in one folder", ("2 series", "ambiguous"),
             dicom_mixed_series, "dicom"),
    _imaging("dicom_nonuniform_spacing", "one slice moved by 0.9 mm", ("spacing",),
             dicom_nonuniform_spacing, "dicom"),
    _imaging("dicom_missing_rescale", "no RescaleIntercept in any slice", ("RescaleIntercept",),
             dicom_missing_rescale, "dicom"),
    _imaging("dicom_empty_folder", "a folder without DICOM files", ("no DICOM",),
             dicom_empty_folder, "dicom"),
    _imaging("mask_geometry_mismatch", "mask origin 6 mm off the image", ("mm",),
             mask_geometry_mismatch),
    _imaging("mask_wrong_size", "mask of another size than the image", ("mm away",),
             mask_wrong_size),
    _imaging("mask_empty", "a mask without any voxel", ("empty",), mask_empty),
    _imaging("mask_unexpected_label", "mask labelled 3 where label 1 is expected", ("label",),
             mask_unexpected_label),
    _imaging("mask_single_voxel", "a one-voxel ROI", ("1 voxel",), mask_single_voxel),
    _imaging("image_nan_voxels", "NaN voxels inside the tumour", ("16 NaN or infinite",),
             image_nan_voxels),
    _imaging("image_inf_voxels", "an infinite voxel", ("1 NaN or infinite",),
             image_inf_voxels),
    _imaging("image_missing", "the image path does not exist", ("nowhere.nrrd", "not found"),
             image_missing),
    _imaging("image_is_a_text_file", "a text file named .nrrd", ("bad/image.nrrd",),
             image_is_a_text_file),
    Case("cases_missing_column", "imaging", "cases.tsv without the mask column", "exit 2",
         ("cases.tsv", "mask"), cases_missing_column, absent=("radiomics.h5ad",)),
    Case("cases_duplicated_ids", "imaging", "cases.tsv with a patient twice", "exit 2",
         ("cases.tsv", "P1"), cases_duplicated_ids, absent=("radiomics.h5ad",)),
    Case("cases_binary_garbage", "imaging", "cases.tsv of random bytes", "exit 2",
         ("cases.tsv",), cases_binary_garbage, absent=("radiomics.h5ad",)),
    Case("counts_negative", "transcriptome", "a STAR counts file with a negative count", "batch",
         ("negative",), counts_negative),
    Case("counts_non_integer", "transcriptome", "a STAR counts file with 12.5 reads", "batch",
         ("integer",), counts_non_integer),
    Case("counts_missing_column", "transcriptome", "a STAR counts file without 'unstranded'",
         "batch", ("unstranded",), counts_missing_column),
    Case("counts_duplicated_gene", "transcriptome", "a STAR counts file with a gene twice", "batch",
         ("appears more than once",), counts_duplicated_gene),
    Case("counts_empty_file", "transcriptome", "an empty STAR counts file", "batch", ("empty",),
         counts_empty_file),
    Case("sheet_duplicated_file_id", "transcriptome", "a sample sheet with a row twice", "exit 2",
         ("gdc_sample_sheet.tsv", "File ID"), sheet_duplicated_file_id, absent=("bulk.h5ad",)),
    Case("sheet_unknown_file", "transcriptome", "a sample-sheet row for a file the cart did not "
         "hold", "exit 2", ("gdc_sample_sheet.tsv", "99999999-0000-4000-8000-000000000000"),
         sheet_unknown_file, absent=("bulk.h5ad",)),
    Case("metadata_malformed_barcode", "transcriptome", "aliquot barcode 'TCGA-XX-01A' in the "
         "cart metadata", "exit 2", ("TCGA-XX-01A",), metadata_malformed_barcode,
         absent=("bulk.h5ad",)),
    Case("sheet_missing_column", "transcriptome", "a sample sheet without Sample ID", "exit 2",
         ("gdc_sample_sheet.tsv", "Sample ID"), sheet_missing_column, absent=("bulk.h5ad",)),
    Case("clinical_only_dashes", "transcriptome", "clinical.tsv whose every value is '--",
         "exit 2", ("clinical.tsv",), clinical_only_dashes, absent=("bulk.h5ad",)),
    Case("manifest_dotdot", "manifest", "a file name with '..'", "exit 2",
         ("gdc_manifest.txt", "not a plain relative name"), manifest_dotdot),
    Case("manifest_absolute", "manifest", "an absolute file name", "exit 2",
         ("gdc_manifest.txt", "not a plain relative name"), manifest_absolute),
    Case("manifest_nul", "manifest", "a NUL byte in a file name", "exit 2",
         ("gdc_manifest.txt", "NUL"), manifest_nul),
    Case("manifest_duplicated_id", "manifest", "the same file ID twice", "exit 2",
         ("gdc_manifest.txt", _ID1), manifest_duplicated_id),
    Case("manifest_missing_column", "manifest", "a manifest without md5 and size", "exit 2",
         ("gdc_manifest.txt", "md5"), manifest_missing_column),
    Case("manifest_md5_mismatch", "manifest", "a downloaded file whose md5 differs", "exit 2",
         ("md5 mismatch",), manifest_md5_mismatch),
    Case("download_gzip_bomb", "manifest", "the server sends a gzip bomb instead of the file",
         "exit 2", ("a.counts.tsv",), download_gzip_bomb, absent=(f"{_ID1}/a.counts.tsv",)),
    Case("yaml_unknown_key", "config", "model.foldz", "exit 2", ("analysis.yaml", "model.foldz"),
         yaml_unknown_key),
    Case("yaml_wrong_type", "config", "model.folds: many", "exit 2",
         ("analysis.yaml", "model.folds", "many"), yaml_wrong_type),
    Case("yaml_python_tag", "config", "a !!python/object/apply tag", "exit 2",
         ("analysis.yaml", "python/object"), yaml_python_tag),
    Case("yaml_syntax_error", "config", "an unclosed bracket", "exit 2", ("analysis.yaml",),
         yaml_syntax_error),
    Case("yaml_not_a_mapping", "config", "a list instead of a mapping", "exit 2",
         ("analysis.yaml",), yaml_not_a_mapping),
    Case("yaml_bad_name", "config", "name: ../../etc", "exit 2", ("analysis.yaml", "name"),
         yaml_bad_name),
    Case("h5ad_missing_cell_type", "reference", "a reference without obs['cell_type']", "exit 2",
         ("reference.h5ad", "cell_type"), h5ad_missing_cell_type, absent=("benchmark.tsv",)),
    Case("h5ad_garbage", "reference", "random bytes after an HDF5 signature", "exit 2",
         ("reference.h5ad",), h5ad_garbage, absent=("benchmark.tsv",)),
    Case("gmt_empty_set", "gene sets", "a GMT line without genes", "api", ("sets.gmt", "SET_EMPTY"),
         gmt_empty_set),
    Case("gmt_duplicated_name", "gene sets", "a set name twice", "api", ("sets.gmt", "SET_A"),
         gmt_duplicated_name),
    Case("survival_negative_time", "survival", "a negative OS time", "api", ("OS_time", "-3"),
         survival_negative_time),
    Case("survival_missing_time", "survival", "missing OS times", "api", ("OS_time", "2 of 3 rows"),
         survival_missing_time),
    Case("survival_all_censored", "survival", "no event at all", "api", ("OS", "censored"),
         survival_all_censored),
    Case("survival_bad_event_code", "survival", "an event coded 2", "api", ("OS", "2"),
         survival_bad_event_code),
]


def readme() -> str:
    """The generated table of cases."""
    lines = [
        "# Bad-input corpus",
        "",
        "Generated by `python tests/bad_inputs/corpus.py` from `corpus.py` (do not edit by hand);",
        "`tests/test_bad_inputs.py` builds every case in a fresh folder and checks its outcome.",
        "",
        "- **exit 2**: the command prints one message naming the file/field/value, exits with",
        "  code 2, prints no traceback and leaves no artefact under a final name.",
        "- **batch**: the bad case is a row of `failures.tsv` with the reason; the good case",
        "  (`P1`, or the other samples) completes and the command exits 0.",
        "- **api**: a parser without a command of its own raises `UserError` with the message.",
        "",
        f"{len(CASES)} cases.",
        "",
        "| # | case | input | outcome | message contains |",
        "|---|---|---|---|---|",
    ]
    for i, case in enumerate(CASES, 1):
        msgs = ", ".join(f"`{m}`" for m in case.messages)
        lines.append(f"| {i} | `{case.name}` ({case.group}) | {case.what} | {case.outcome} | {msgs} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    (HERE / "README.md").write_text(readme(), encoding="utf-8")
    print(f"{len(CASES)} cases → {HERE / 'README.md'}", file=sys.stderr)
