"""Download GDC files: resolve a query into a manifest, fetch with retries and resume, verify.

Files land at ``<out>/<id>/<filename>`` (the layout of the GDC Data Transfer Tool). A download
is written to ``<out>/<id>/.<filename>.part``, resumed with an HTTP ``Range`` request after a
dropped connection, never read past the manifest's size, checked against the manifest's size and
md5, and only then renamed to its final name. Names from a manifest or a server that would leave
``<out>`` (absolute, ``..``, control characters) are refused. Running it again skips files that
are already complete, so it is idempotent.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ._files import atomic_write_tsv
from ._logging import logger, progress
from .errors import InputFileError, UserError
from .io.gdc import MANIFEST_COLUMNS, read_gdc_manifest, safe_relative_name

__all__ = ["GDC_API", "fetch", "load_manifest", "resolve_gdc_query", "verify"]

GDC_API = "https://api.gdc.cancer.gov"
CHUNK = 1 << 20
QUERY_FIELDS = "file_id,file_name,md5sum,file_size,state"


class DownloadError(Exception):
    """One file could not be downloaded correctly (recorded, the others go on)."""


def _request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
             timeout: float = 60.0) -> Any:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http(s) URLs from the user)


def resolve_gdc_query(filters: dict[str, Any] | str | Path, api: str = GDC_API,
                      page_size: int = 500, timeout: float = 60.0) -> pd.DataFrame:
    """The files matching GDC API ``filters`` (a dict or a JSON file), as a manifest table.

    Pages through ``POST {api}/files`` and returns ``id, filename, md5, size, state``.
    """
    if not isinstance(filters, dict):
        path = Path(filters)
        try:
            filters = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{path}: not a readable GDC filters JSON ({exc})") from None
    hits: list[dict[str, Any]] = []
    start, total = 0, None
    while total is None or start < total:
        body = json.dumps({"filters": filters, "fields": QUERY_FIELDS, "format": "JSON",
                           "size": page_size, "from": start}).encode()
        try:
            with _request(f"{api.rstrip('/')}/files", data=body,
                          headers={"Content-Type": "application/json"}, timeout=timeout) as r:
                page = json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            msg = f"{api}/files: the GDC query failed ({exc}); check the network and the API URL"
            raise UserError(msg) from None
        data = page.get("data", {})
        batch = data.get("hits", [])
        total = int(data.get("pagination", {}).get("total", len(batch)))
        hits += batch
        if not batch:
            break
        start += len(batch)
    table = pd.DataFrame(
        {"id": [h.get("file_id") or h.get("id") for h in hits],
         "filename": [h["file_name"] for h in hits],
         "md5": [h.get("md5sum") or "" for h in hits],
         "size": [int(h["file_size"]) for h in hits],
         "state": [h.get("state", "") for h in hits]},
        columns=list(MANIFEST_COLUMNS))
    for row in table.itertuples():
        safe_relative_name(row.filename, f"{api}/files: file {row.id}")
        safe_relative_name(row.id, f"{api}/files: file id")
    logger.info("GDC query: %d files, %.1f MB", len(table), table["size"].sum() / 1e6)
    return table


def load_manifest(path: str | Path, api: str = GDC_API) -> pd.DataFrame:
    """A GDC manifest file, or a filters JSON (``*.json``) resolved through the API."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return resolve_gdc_query(path, api=api)
    return read_gdc_manifest(path)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _target(out: Path, file_id: str, filename: str) -> Path:
    safe_relative_name(file_id, f"manifest id {file_id!r}")
    if "/" in file_id or "\\" in file_id:
        raise InputFileError(f"manifest id {file_id!r} must not contain a path separator")
    safe_relative_name(filename, f"manifest file {file_id}")
    target = (out / file_id / filename).resolve()
    if not target.is_relative_to(out.resolve()):
        raise InputFileError(f"manifest file {file_id}: {filename!r} would be written outside {out}")
    return target


def _complete(path: Path, size: int, md5: str) -> bool:
    return path.is_file() and path.stat().st_size == size and (not md5 or _md5(path) == md5)


def _download_one(url: str, part: Path, size: int, headers: dict[str, str], retries: int,
                  backoff: float, timeout: float, sleep: Callable[[float], None]) -> None:
    """Bring ``part`` to ``size`` bytes, resuming with Range after a dropped connection."""
    failures = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if have == size:
            return
        if have > size:
            part.unlink()
            have = 0
        req_headers = dict(headers)
        if have:
            req_headers["Range"] = f"bytes={have}-"
        try:
            with _request(url, headers=req_headers, timeout=timeout) as resp:
                status = getattr(resp, "status", 200)
                if have and status != 206:  # the server ignored the Range: start again
                    have = 0
                with part.open("ab" if have else "wb") as fh:
                    while have < size:
                        block = resp.read(min(CHUNK, size - have))
                        if not block:
                            break
                        fh.write(block)
                        have += len(block)
            if have == size:
                return
            raise ConnectionError(f"connection closed after {have} of {size} bytes")
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise DownloadError(f"HTTP {exc.code}: access denied (controlled data needs a "
                                    f"GDC token, --token-file)") from None
            if exc.code == 404:
                raise DownloadError("HTTP 404: no such file on the server") from None
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = f"{exc.__class__.__name__}: {exc}"
        failures += 1
        if failures > retries:
            raise DownloadError(f"gave up after {retries} retries ({reason})")
        logger.info("%s: %s; retrying (%d/%d)", url, reason, failures, retries)
        sleep(backoff * 2 ** (failures - 1))


def fetch(
    manifest: pd.DataFrame | str | Path,
    out: str | Path,
    *,
    api: str = GDC_API,
    token: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Download every file of ``manifest`` into ``out`` (see the module docstring).

    Returns
    -------
    DataFrame
        One row per file: ``id, filename, path, status`` (``downloaded``, ``present`` or
        ``failed``) and ``reason``. The same table is written to ``<out>/fetch_report.tsv``.

    Raises
    ------
    UserError
        After trying every file, when some failed (each failure costs only its own file).
    """
    out = Path(out)
    table = manifest if isinstance(manifest, pd.DataFrame) else load_manifest(manifest, api=api)
    out.mkdir(parents=True, exist_ok=True)
    headers = {"X-Auth-Token": token} if token else {}
    rows = []
    for row in progress(list(table.itertuples(index=False)), description="downloading"):
        target = _target(out, row.id, row.filename)
        record = {"id": row.id, "filename": row.filename, "path": str(target), "reason": ""}
        if _complete(target, int(row.size), row.md5):
            rows.append({**record, "status": "present"})
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        url = f"{api.rstrip('/')}/data/{row.id}"
        try:
            _download_one(url, part, int(row.size), headers, retries, backoff, timeout, sleep)
            got = _md5(part)
            if row.md5 and got != row.md5:
                part.unlink()
                raise DownloadError(f"md5 mismatch: expected {row.md5}, got {got}; the partial "
                                    f"file was removed")
            part.replace(target)
            rows.append({**record, "status": "downloaded"})
        except DownloadError as exc:
            logger.warning("%s (%s): %s", row.filename, row.id, exc)
            rows.append({**record, "status": "failed", "reason": str(exc)})
    report = pd.DataFrame(rows, columns=["id", "filename", "path", "status", "reason"])
    atomic_write_tsv(out / "fetch_report.tsv", report)
    failed = report[report["status"] == "failed"]
    if len(failed):
        first = failed.iloc[0]
        msg = (f"{len(failed)} of {len(report)} file(s) failed (see {out / 'fetch_report.tsv'}); "
               f"first: {first['filename']}: {first['reason']}. Run the same command again to "
               f"retry them")
        raise UserError(msg)
    return report


def verify(manifest: pd.DataFrame | str | Path, folder: str | Path) -> pd.DataFrame:
    """Check every manifest file under ``folder`` (``<id>/<filename>``): size and md5.

    Returns ``id, filename, status`` with status ``ok``, ``missing``, ``size mismatch`` or
    ``md5 mismatch``.
    """
    folder = Path(folder)
    table = manifest if isinstance(manifest, pd.DataFrame) else read_gdc_manifest(manifest)
    rows = []
    for row in progress(list(table.itertuples(index=False)), description="verifying"):
        path = _target(folder, row.id, row.filename)
        if not path.is_file():
            status = "missing"
        elif path.stat().st_size != int(row.size):
            status = "size mismatch"
        elif row.md5 and _md5(path) != row.md5:
            status = "md5 mismatch"
        else:
            status = "ok"
        rows.append({"id": row.id, "filename": row.filename, "status": status})
    return pd.DataFrame(rows, columns=["id", "filename", "status"])
