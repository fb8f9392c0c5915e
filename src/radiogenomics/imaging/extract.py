"""Radiomics extraction over many cases: per-case QC, pyradiomics, fault isolation, a per-case
cache keyed by content, and parallel execution on a process pool or a Dask cluster."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._files import atomic_write_text, file_md5, tree_files
from .._logging import logger, progress
from ..errors import UserError
from .qc import QCFailure, QCSettings, check_case

__all__ = ["DEFAULT_PARAMS", "extract_features", "feature_table"]

DEFAULT_PARAMS = Path(__file__).parent / "params" / "ct.yaml"
#: bump when the way features are computed changes, so that cached cases are recomputed
EXTRACTION_VERSION = "1"
Executor = Literal["process", "dask", "serial"]


def _content_md5(path: Path) -> str:
    files = tree_files(path)
    if len(files) == 1 and files[0] == path:
        return file_md5(path)
    digest = hashlib.md5()
    for f in files:
        digest.update(str(f.relative_to(path)).encode())
        digest.update(file_md5(f).encode())
    return digest.hexdigest()


def _case_key(job: dict[str, Any]) -> str:
    payload = {
        "image": _content_md5(Path(job["image"])),
        "mask": _content_md5(Path(job["mask"])),
        "params": job["params_md5"],
        "qc": job["qc"],
        "label": job["label"],
        "roi": job["roi"],
        "allow_resample": job["allow_resample"],
        "pyradiomics": version("pyradiomics-bhklab"),
        "extraction": EXTRACTION_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


_EXTRACTOR: dict[str, Any] = {}


def _extractor(params: str, single_thread: bool):  # noqa: ANN202
    if params not in _EXTRACTOR:
        import SimpleITK as sitk
        from radiomics import featureextractor

        logging.getLogger("radiomics").setLevel(logging.ERROR)
        if single_thread:  # one case per core: no nested threads in SimpleITK or BLAS
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
        _EXTRACTOR[params] = featureextractor.RadiomicsFeatureExtractor(params)
    return _EXTRACTOR[params]


def case_jobs(cases: pd.DataFrame, *, mask_label: int, qc: QCSettings,
              allow_resample: bool) -> list[dict[str, Any]]:
    """One job per case with what :func:`load_checked_case` needs (stages add their own keys)."""
    return [
        {
            "patient_id": str(row["patient_id"]), "image": str(row["image"]), "mask": str(row["mask"]),
            "roi": (None if pd.isna(row.get("mask_roi", None)) else str(row["mask_roi"])),
            "label": mask_label, "qc": asdict(qc), "allow_resample": allow_resample,
        }
        for _, row in cases.iterrows()
    ]


def load_checked_case(job: dict[str, Any]):  # noqa: ANN201 - (image, mask, qc row)
    """Read a case's image and mask and run the QC checks (raises on failure).

    Returns the image, the (possibly resampled) mask and the QC row.
    """
    from ..io import read_image, read_mask

    image = read_image(job["image"], allow_resample=job["allow_resample"])
    mask = read_mask(job["mask"], image, label=job["label"], roi=job["roi"])
    mask, qc_row = check_case(job["patient_id"], image, mask, QCSettings(**job["qc"]))
    return image, mask, qc_row


def extract_case(job: dict[str, Any]) -> dict[str, Any]:
    """Read, check and extract one case; never raises (a failure is returned as a result).

    Returns a dict with ``patient_id``, ``status`` (``ok``/``failed``), ``features`` (name →
    float), ``qc`` (the QC row) and ``reason``.
    """
    pid = job["patient_id"]
    qc_row: dict[str, Any] = {"patient_id": pid}
    try:
        image, mask, qc_row = load_checked_case(job)
        extractor = _extractor(job["params"], job["single_thread"])
        result = extractor.execute(image, mask, label=1)
        features = {
            k: float(np.asarray(v)) for k, v in result.items() if not k.startswith("diagnostics_")
        }
        return {"patient_id": pid, "status": "ok", "features": features, "qc": qc_row, "reason": ""}
    except QCFailure as exc:
        return {"patient_id": pid, "status": "failed", "features": {}, "qc": exc.row,
                "reason": str(exc)}
    except UserError as exc:
        qc_row.update(status="fail", reason=str(exc))
        return {"patient_id": pid, "status": "failed", "features": {}, "qc": qc_row,
                "reason": str(exc)}
    except Exception as exc:  # pyradiomics and SimpleITK errors: this case only
        reason = f"case {pid}: {exc.__class__.__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        qc_row.update(status="fail", reason=reason)
        return {"patient_id": pid, "status": "failed", "features": {}, "qc": qc_row,
                "reason": reason, "traceback": traceback.format_exc()}


def _cached_case(job: dict[str, Any]) -> dict[str, Any]:
    """:func:`extract_case` behind the per-case cache (successful cases only are cached)."""
    cache = job.get("cache_dir")
    if cache is None:
        return extract_case(job)
    key = _case_key(job)
    path = Path(cache) / key[:2] / f"{key}.json"
    if path.is_file():
        try:
            hit = json.loads(path.read_text(encoding="utf-8"))
            hit["patient_id"] = job["patient_id"]
            hit["qc"]["patient_id"] = job["patient_id"]
            hit["cached"] = True
            return hit  # type: ignore[no-any-return]
        except (OSError, ValueError):
            pass
    result = extract_case(job)
    if result["status"] == "ok":
        atomic_write_text(path, json.dumps(result))  # keeps pyradiomics' feature order
    result["cached"] = False
    return result


def run_jobs(func: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]],
             n_jobs: int, executor: Executor,
             scheduler_address: str | None = None) -> Iterator[dict[str, Any]]:
    """Apply ``func`` to every job, in input order, serially, on a process pool or on Dask.

    ``func`` must be a module-level function (it is pickled to the workers). Results come back
    in submission order, so tables are identical whatever the executor and schedule.
    """
    if executor == "serial" or n_jobs == 1 or len(jobs) <= 1:
        yield from (func(j) for j in jobs)
        return
    if executor == "process":
        with ProcessPoolExecutor(n_jobs) as pool:
            yield from pool.map(func, jobs, chunksize=1)
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        msg = "executor 'dask' needs dask and distributed: pip install 'radiogenomics[dask]'"
        raise UserError(msg) from exc
    if scheduler_address:
        client = Client(scheduler_address)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        client = Client(cluster)
    try:
        for future in client.map(func, jobs, pure=False):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def feature_table(names: Sequence[str]) -> pd.DataFrame:
    """``.var`` for pyradiomics feature names: image type, feature class, feature, habitat."""
    parts = [n.split("_", 2) for n in names]
    return pd.DataFrame(
        {
            "image_type": [p[0] for p in parts],
            "feature_class": [p[1] if len(p) > 1 else "" for p in parts],
            "feature": [p[2] if len(p) > 2 else p[-1] for p in parts],
            "habitat": "whole",
        },
        index=pd.Index(list(names), name="feature_id"),
    )


def extract_features(
    cases: pd.DataFrame,
    params: str | Path | None = None,
    n_jobs: int | None = None,
    executor: Executor = "process",
    *,
    scheduler_address: str | None = None,
    cache_dir: str | Path | None = None,
    qc: QCSettings = QCSettings(),
    mask_label: int = 1,
    allow_resample: bool = False,
    max_failure_fraction: float = 1.0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
):  # noqa: ANN201 - returns AnnData (imported lazily)
    """Extract pyradiomics features for every case.

    Parameters
    ----------
    cases
        One row per case: ``patient_id``, ``image`` (file or DICOM folder), ``mask`` (label
        image, DICOM-SEG or RTSTRUCT) and optional columns (cohort, centre, label, clinical),
        plus optional ``mask_roi`` (SEG segment label or RTSTRUCT ROI name).
    params
        A pyradiomics parameter file (YAML); the suite's CT default if None.
    n_jobs
        Worker processes (default: all cores).
    executor
        ``process`` (a local process pool), ``dask`` (a Dask cluster at ``scheduler_address``,
        or a ``LocalCluster`` of ``n_jobs`` workers) or ``serial``.
    cache_dir
        Per-case cache keyed by the content of image, mask and parameters; a rerun extracts only
        new or changed cases.
    qc
        Thresholds of the per-case QC.
    max_failure_fraction
        Raise :class:`UserError` when more than this fraction of cases fail.

    Returns
    -------
    AnnData
        Patients x features (successful cases, in input order); ``.obs`` the case table without
        file paths; ``.var`` image type, feature class, feature and habitat; ``.uns["qc"]`` the
        QC table of every case and ``.uns["failures"]`` the failed cases with their reasons.
    """
    import anndata as ad

    missing = [c for c in ("patient_id", "image", "mask") if c not in cases.columns]
    if missing:
        msg = f"the case table lacks the column(s) {missing}; it needs patient_id, image, mask"
        raise UserError(msg)
    dupes = cases["patient_id"][cases["patient_id"].duplicated()].tolist()
    if dupes:
        msg = f"the case table lists patient_id {dupes[:5]} more than once"
        raise UserError(msg)
    params_path = Path(params) if params is not None else DEFAULT_PARAMS
    if not params_path.is_file():
        msg = f"{params_path}: pyradiomics parameter file not found"
        raise UserError(msg)
    _check_params(params_path)
    n_jobs = n_jobs or os.cpu_count() or 1
    params_md5 = file_md5(params_path)
    jobs = case_jobs(cases, mask_label=mask_label, qc=qc, allow_resample=allow_resample)
    for job in jobs:
        job.update(params=str(params_path), params_md5=params_md5,
                   cache_dir=str(cache_dir) if cache_dir is not None else None,
                   single_thread=n_jobs > 1 and executor != "serial" and len(cases) > 1)
    results: list[dict[str, Any]] = []
    for result in progress(run_jobs(_cached_case, jobs, n_jobs, executor, scheduler_address),
                           description="extracting radiomics", total=len(jobs)):
        if result["status"] != "ok":
            logger.warning("%s", result["reason"])
            if "traceback" in result:
                logger.debug("%s", result["traceback"])
        if on_result is not None:
            on_result(result)
        results.append(result)
    ok = [r for r in results if r["status"] == "ok"]
    failed = [r for r in results if r["status"] != "ok"]
    logger.info("extracted %d case(s) (%d from cache), %d failed", len(ok),
                sum(bool(r.get("cached")) for r in ok), len(failed))
    if len(failed) > max_failure_fraction * len(results):
        reasons = "; ".join(r["reason"] for r in failed[:3])
        msg = (f"{len(failed)} of {len(results)} cases failed, more than max_failure_fraction = "
               f"{max_failure_fraction}: {reasons}")
        raise UserError(msg)
    if not ok:
        msg = "no case could be extracted"
        raise UserError(msg)
    names = list(ok[0]["features"])
    X = np.array([[r["features"][n] for n in names] for r in ok], dtype=np.float64)
    keep = [c for c in cases.columns if c not in ("image", "mask", "mask_roi")]
    obs = cases.set_index(cases["patient_id"].astype(str))[keep].loc[[r["patient_id"] for r in ok]]
    obs.index.name = None
    obs = obs.astype({c: str for c in obs.columns if obs[c].dtype == object})
    qc_table = _tidy(pd.DataFrame([r["qc"] for r in results]))
    failures = pd.DataFrame([{"patient_id": r["patient_id"], "reason": r["reason"]} for r in failed],
                            columns=["patient_id", "reason"])
    adata = ad.AnnData(X=X, obs=obs, var=feature_table(names))
    adata.uns["qc"] = qc_table
    adata.uns["failures"] = failures
    adata.uns["extract"] = {
        "params": {"params_file": params_path.name, "params_md5": params_md5,
                   "pyradiomics": version("pyradiomics-bhklab"), "qc": asdict(qc),
                   "mask_label": mask_label, "allow_resample": allow_resample},
    }
    return adata


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain strings (missing → ""), so the table serialises to h5ad and TSV."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out


def _check_params(path: Path) -> None:
    """Refuse a parameter file pyradiomics would reject, naming the problem, before any case."""
    import yaml
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML ({str(exc).splitlines()[0]})"
        raise UserError(msg) from exc
    if not isinstance(content, dict):
        msg = f"{path}: a pyradiomics parameter file is a mapping (setting, imageType, featureClass)"
        raise UserError(msg)
    try:
        featureextractor.RadiomicsFeatureExtractor(str(path))
    except Exception as exc:  # pykwalify schema errors and pyradiomics' own checks
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        msg = f"{path}: pyradiomics rejects the parameter file: {detail}"
        raise UserError(msg) from exc
