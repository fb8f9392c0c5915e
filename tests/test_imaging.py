"""Imaging ingest, QC and extraction against independent references: SimpleITK, pydicom,
the analytic phantom, pyradiomics called directly, and the simulator's truth."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from conftest import REPO, TINY_CONFIG, run_cli, run_tables, write_config
from imaging_fixtures import PHI, phantom, write_dicom, write_nrrd, write_rtstruct

from radiogenomics.errors import InputFileError, UserError
from radiogenomics.imaging import check_case, extract_features
from radiogenomics.imaging.qc import QCFailure
from radiogenomics.io import read_image, read_mask

FAST = REPO / "analyses" / "params" / "ct_fast.yaml"


@pytest.fixture(scope="module")
def ph(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("phantom")
    image, mask = phantom()
    out = {"image": image, "mask": mask, "root": root}
    out["nrrd"] = write_nrrd(root / "image.nrrd", image)
    out["mask_nrrd"] = write_nrrd(root / "mask.nrrd", mask)
    out["ct"] = write_dicom(root / "dicom", image)
    write_rtstruct(root / "rtstruct.dcm", out["ct"])
    return out


def test_dicom_in_shuffled_order_equals_nrrd(ph: dict) -> None:
    from_dicom = read_image(ph["root"] / "dicom")
    from_nrrd = read_image(ph["nrrd"])
    assert from_dicom.GetSize() == from_nrrd.GetSize()
    assert np.allclose(from_dicom.GetSpacing(), from_nrrd.GetSpacing())
    assert np.allclose(from_dicom.GetOrigin(), from_nrrd.GetOrigin(), atol=1e-4)
    assert np.allclose(from_dicom.GetDirection(), from_nrrd.GetDirection())
    assert np.array_equal(sitk.GetArrayFromImage(from_dicom), ph["image"].astype(np.float32))


def test_series_choice_by_uid_or_most_slices(ph: dict, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "mixed"
    shutil.copytree(ph["root"] / "dicom", folder / "a")
    small, _ = phantom(seed=3)
    other = write_dicom(folder / "b", small[:10], key="other")
    chosen = read_image(folder)
    assert chosen.GetSize()[2] == 32  # the series with the most slices
    by_uid = read_image(folder, series_uid=other["series_uid"])
    assert by_uid.GetSize()[2] == 10
    assert np.array_equal(sitk.GetArrayFromImage(by_uid), small[:10].astype(np.float32))
    with pytest.raises(InputFileError, match="no series with SeriesInstanceUID 1.2.3"):
        read_image(folder, series_uid="1.2.3")


def test_missing_slice_is_refused_or_resampled(ph: dict, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "gap"
    shutil.copytree(ph["root"] / "dicom", folder)
    victim = next(f for f in folder.iterdir()
                  if float(pydicom.dcmread(f).ImagePositionPatient[2]) == pytest.approx(-31.0 + 10 * 2.0))
    victim.unlink()
    with pytest.raises(InputFileError, match=r"not uniform: 4\.000 mm .*slice is probably missing"):
        read_image(folder)
    fixed = read_image(folder, allow_resample=True)
    assert fixed.GetSize()[2] == 32
    arr = sitk.GetArrayFromImage(fixed)
    expected = (ph["image"][9].astype(np.float32) + ph["image"][11]) / 2
    assert np.allclose(arr[10], expected)


def test_missing_rescale_intercept_is_refused(ph: dict, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "norescale"
    shutil.copytree(ph["root"] / "dicom", folder)
    f = next(folder.iterdir())
    ds = pydicom.dcmread(f)
    del ds.RescaleIntercept
    ds.save_as(f, enforce_file_format=True)
    with pytest.raises(InputFileError, match="RescaleSlope/RescaleIntercept missing"):
        read_image(folder)


def test_rtstruct_rasterises_within_one_percent(ph: dict) -> None:
    ct = read_image(ph["root"] / "dicom")
    with pytest.raises(InputFileError, match=r"2 ROIs .*name the one"):
        read_mask(ph["root"] / "rtstruct.dcm", ct)
    mask = sitk.GetArrayFromImage(read_mask(ph["root"] / "rtstruct.dcm", ct, roi="GTV"))
    truth = ph["mask"]
    assert abs(int(mask.sum()) - int(truth.sum())) <= 0.01 * truth.sum()
    assert (mask.astype(bool) & truth.astype(bool)).sum() >= 0.98 * truth.sum()
    with pytest.raises(InputFileError, match="no ROI named 'PTV'"):
        read_mask(ph["root"] / "rtstruct.dcm", ct, roi="PTV")


def test_seg_of_the_world_matches_truth(tiny_world: Path) -> None:
    cases = pd.read_csv(tiny_world / "imaging" / "cases.tsv", sep="\t")
    row = cases[cases["mask_format"] == "dicom-seg"].iloc[0]
    ct = read_image(tiny_world / "imaging" / row["image"])
    mask = sitk.GetArrayFromImage(read_mask(tiny_world / "imaging" / row["mask"], ct))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(
        str(tiny_world / "truth" / "habitat_maps" / f"{row['patient_id']}.nrrd")))
    assert np.array_equal(mask > 0, truth > 0)


def _shifted(mask_path: Path, out: Path, shift_mm: tuple[float, float, float]) -> Path:
    m = sitk.ReadImage(str(mask_path))
    m.SetOrigin(tuple(o + s for o, s in zip(m.GetOrigin(), shift_mm, strict=True)))
    sitk.WriteImage(m, str(out))
    return out


def test_half_voxel_shift_is_fixed_and_recorded(ph: dict, tmp_path: Path) -> None:
    image = read_image(ph["nrrd"])
    mask = read_mask(_shifted(ph["mask_nrrd"], tmp_path / "half.nrrd", (0.45, 0, 0)), image)
    fixed, row = check_case("P1", image, mask)
    assert row["mask_resampled"] is True and row["grid_offset_mm"] == pytest.approx(0.45)
    assert row["status"] == "pass"
    assert fixed.GetOrigin() == image.GetOrigin()
    assert abs(row["roi_voxels"] - int(ph["mask"].sum())) <= 0.1 * ph["mask"].sum()


def test_five_cm_shift_is_rejected_naming_case_and_offset(ph: dict, tmp_path: Path) -> None:
    image = read_image(ph["nrrd"])
    mask = read_mask(_shifted(ph["mask_nrrd"], tmp_path / "far.nrrd", (50.0, 0, 0)), image)
    with pytest.raises(QCFailure, match=r"case P7: the mask's grid is 50\.0 mm away"):
        check_case("P7", image, mask)


def test_qc_rejects_empty_tiny_and_implausible(ph: dict, tmp_path: Path) -> None:
    image = read_image(ph["nrrd"])
    empty = read_mask(write_nrrd(tmp_path / "empty.nrrd", np.zeros_like(ph["mask"])), image)
    with pytest.raises(QCFailure, match="mask is empty"):
        check_case("E", image, empty)
    one = np.zeros_like(ph["mask"])
    one[16, 16, 16] = 1
    with pytest.raises(QCFailure, match="ROI has 1 voxels, fewer than min_roi_voxels = 64"):
        check_case("S", image, read_mask(write_nrrd(tmp_path / "one.nrrd", one), image))
    bright = read_image(write_nrrd(tmp_path / "mri.nrrd", (ph["image"].astype(np.int32) * 40).astype(np.int32)))
    with pytest.raises(QCFailure, match="not plausible CT Hounsfield units"):
        check_case("M", bright, read_mask(ph["mask_nrrd"], bright))
    other_label = read_mask(ph["mask_nrrd"], image, label=2)
    with pytest.raises(QCFailure, match="mask is empty"):
        check_case("L", image, other_label)


def test_features_equal_pyradiomics_called_directly(ph: dict) -> None:
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    cases = pd.DataFrame({"patient_id": ["P1"], "image": [str(ph["nrrd"])],
                          "mask": [str(ph["mask_nrrd"])], "cohort": ["train"]})
    adata = extract_features(cases, FAST, n_jobs=1, executor="serial")
    direct = featureextractor.RadiomicsFeatureExtractor(str(FAST)).execute(
        str(ph["nrrd"]), str(ph["mask_nrrd"]))
    direct = {k: float(v) for k, v in direct.items() if not k.startswith("diagnostics_")}
    assert list(adata.var_names) == list(direct)
    np.testing.assert_allclose(adata.X[0], [direct[k] for k in adata.var_names], rtol=1e-6, atol=1e-9)
    assert adata.var.loc["original_glcm_Contrast", "feature_class"] == "glcm"
    assert adata.var.loc["original_glcm_Contrast", "image_type"] == "original"
    # DICOM CT + RTSTRUCT of the same phantom give nearly the same first-order features
    dicom_cases = pd.DataFrame({"patient_id": ["P1"], "image": [str(ph["root"] / "dicom")],
                                "mask": [str(ph["root"] / "rtstruct.dcm")], "mask_roi": ["GTV"]})
    from_dicom = extract_features(dicom_cases, FAST, n_jobs=1, executor="serial")
    mean = "original_firstorder_Mean"
    assert from_dicom[:, mean].X[0, 0] == pytest.approx(adata[:, mean].X[0, 0], rel=0.02)


def test_uniform_roi_has_no_texture(ph: dict, tmp_path: Path) -> None:
    """Null: with the texture removed, texture features find none."""
    flat = ph["image"].copy()
    flat[ph["mask"] > 0] = 80
    cases = pd.DataFrame({"patient_id": ["F"], "image": [str(write_nrrd(tmp_path / "flat.nrrd", flat))],
                          "mask": [str(ph["mask_nrrd"])]})
    params = tmp_path / "noresample.yaml"
    params.write_text("setting:\n  binWidth: 25\n  label: 1\nimageType:\n  Original: {}\n"
                      "featureClass:\n  firstorder:\n  glcm:\n", encoding="utf-8")
    adata = extract_features(cases, params, n_jobs=1, executor="serial")
    assert adata[:, "original_firstorder_Variance"].X[0, 0] == 0
    assert adata[:, "original_firstorder_Entropy"].X[0, 0] == pytest.approx(0, abs=1e-12)


def test_batch_with_bad_cases_completes_the_others(ph: dict, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.nrrd"
    truncated.write_bytes(ph["nrrd"].read_bytes()[:300])
    empty = write_nrrd(tmp_path / "empty.nrrd", np.zeros_like(ph["mask"]))
    cases = pd.DataFrame({
        "patient_id": ["good1", "trunc", "empty", "good2"],
        "image": [str(ph["nrrd"]), str(truncated), str(ph["nrrd"]), str(ph["nrrd"])],
        "mask": [str(ph["mask_nrrd"]), str(ph["mask_nrrd"]), str(empty), str(ph["mask_nrrd"])],
    })
    adata = extract_features(cases, FAST, n_jobs=2)
    assert list(adata.obs_names) == ["good1", "good2"]
    failures = adata.uns["failures"].set_index("patient_id")["reason"]
    assert set(failures.index) == {"trunc", "empty"}
    assert "truncated.nrrd: cannot read the image" in failures["trunc"]
    assert "mask is empty" in failures["empty"]
    qc = adata.uns["qc"].set_index("patient_id")
    assert qc.loc["good1", "status"] == "pass" and qc.loc["empty", "status"] == "fail"
    with pytest.raises(UserError, match=r"2 of 4 cases failed, more than max_failure_fraction = 0\.25"):
        extract_features(cases, FAST, n_jobs=1, executor="serial", max_failure_fraction=0.25)


def test_cache_extracts_only_new_cases(ph: dict, tmp_path: Path) -> None:
    other, _ = phantom(seed=1)
    other_path = write_nrrd(tmp_path / "other.nrrd", other)
    base = pd.DataFrame({"patient_id": ["a", "b"], "image": [str(ph["nrrd"]), str(other_path)],
                         "mask": [str(ph["mask_nrrd"])] * 2})
    seen: list[tuple[str, bool]] = []
    first = extract_features(base, FAST, executor="serial", cache_dir=tmp_path / "c",
                             on_result=lambda r: seen.append((r["patient_id"], r["cached"])))
    assert seen == [("a", False), ("b", False)]
    seen.clear()
    more = pd.concat([base, pd.DataFrame({"patient_id": ["c"], "image": [str(ph["root"] / "dicom")],
                                          "mask": [str(ph["mask_nrrd"])]})])
    second = extract_features(more, FAST, executor="serial", cache_dir=tmp_path / "c",
                              on_result=lambda r: seen.append((r["patient_id"], r["cached"])))
    assert seen == [("a", True), ("b", True), ("c", False)]
    np.testing.assert_array_equal(second.X[:2], first.X)


def test_bad_parameter_file_is_a_clear_error(ph: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("setting:\n  binWidth: -3\nimageType:\n  Orignal: {}\n", encoding="utf-8")
    cases = pd.DataFrame({"patient_id": ["a"], "image": [str(ph["nrrd"])], "mask": [str(ph["mask_nrrd"])]})
    with pytest.raises(UserError, match="bad.yaml: pyradiomics rejects the parameter file"):
        extract_features(cases, bad, executor="serial")
    with pytest.raises(UserError, match="lists patient_id \\['a'\\] more than once"):
        extract_features(pd.concat([cases, cases]), FAST, executor="serial")


@pytest.mark.slow
def test_dask_local_cluster_matches_serial(tiny_world: Path) -> None:
    pytest.importorskip("dask.distributed")
    from radiogenomics.imaging.stage import read_cases

    cases = read_cases(tiny_world / "imaging" / "cases.tsv")
    cases = cases.groupby("center").head(3)
    serial = extract_features(cases, FAST, executor="serial")
    dask = extract_features(cases, FAST, n_jobs=2, executor="dask")
    assert list(dask.obs_names) == list(serial.obs_names)
    np.testing.assert_array_equal(dask.X, serial.X)


@pytest.mark.slow
def test_a_whole_run_on_a_dask_local_cluster_writes_the_same_tables(tiny_run: Path,
                                                                   tmp_path: Path) -> None:
    """``extract.executor: dask`` (a 2-worker LocalCluster on loopback, used by extraction,
    habitats and the robustness perturbations): the whole tiny run writes the same tables as
    the run on the local process pool, byte for byte."""
    pytest.importorskip("dask.distributed")
    config = TINY_CONFIG.replace("extract:\n", "extract:\n  executor: dask\n  n_jobs: 2\n", 1)
    assert "executor: dask" in config
    result = run_cli("run", str(write_config(tmp_path / "tiny.yaml", config)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "runs" / "tiny" / "extract" / "stage.json").read_text())
    assert record["params"]["extract"]["executor"] == "dask"
    expected = run_tables(tiny_run / "runs" / "tiny")
    got = run_tables(tmp_path / "runs" / "tiny")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


@pytest.mark.slow
def test_extract_stage_outputs_carry_no_phi(tiny_run: Path, tiny_world: Path) -> None:
    import anndata as ad

    stage = tiny_run / "runs" / "tiny" / "extract"
    adata = ad.read_h5ad(stage / "radiomics.h5ad")
    truth = pd.read_csv(tiny_run / "runs" / "tiny" / "simulate" / "world" / "truth" / "imaging.tsv",
                        sep="\t")
    assert adata.n_obs == len(truth)  # every simulated case passes QC
    assert set(adata.obs["cohort"]) == {"train", "internal", "external", "transcriptome"}
    assert "image" not in adata.obs and "mask" not in adata.obs
    # the ROI volume measured by pyradiomics matches the planted tumour volume
    vol = pd.Series(adata[:, "original_shape_VoxelVolume"].X[:, 0], index=adata.obs_names) / 1000
    planted = truth.set_index("patient_id")["tumour_volume_ml"].loc[vol.index]
    assert np.corrcoef(vol, planted)[0, 1] > 0.99
    phi = pd.read_csv(tiny_run / "runs" / "tiny" / "simulate" / "world" / "truth" / "phi.tsv",
                      sep="\t", dtype=str)
    needles = [v for col in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber")
               for v in phi[col]]
    for path in [*stage.iterdir(), tiny_run / "reports" / "tiny" / "index.html"]:
        data = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, (path.name, needle)
    assert PHI["PatientName"]  # the phantom's PHI is the fixture's, checked in other tests


@pytest.mark.parametrize("suffix", [".nii.gz", ".mha"])
def test_nifti_and_mha_read_like_nrrd(ph: dict, tmp_path: Path, suffix: str) -> None:
    reference = sitk.ReadImage(str(ph["nrrd"]))
    path = tmp_path / f"image{suffix}"
    sitk.WriteImage(reference, str(path))
    image = read_image(path)
    assert np.array_equal(sitk.GetArrayFromImage(image), ph["image"])
    assert np.allclose(image.GetOrigin(), reference.GetOrigin(), atol=1e-4)
    with pytest.raises(InputFileError, match="unsupported image file"):
        read_image(ph["root"] / "rtstruct.dcm")
