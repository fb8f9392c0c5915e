"""fetch and verify against a local GDC-shaped server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from conftest import run_cli
from gdc_server import GDCServer, ServedFile

from radiogenomics.errors import InputFileError, UserError
from radiogenomics.fetch import fetch, resolve_gdc_query, verify
from radiogenomics.io import read_gdc_manifest


def _payload(i: int, n: int = 300_000) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (n // 32 + i)


@pytest.fixture()
def server():
    files = [
        ServedFile("11111111-aaaa-4aaa-8aaa-000000000001", "a.counts.tsv", _payload(1)),
        ServedFile("11111111-aaaa-4aaa-8aaa-000000000002", "b.counts.tsv", _payload(2),
                   drop_first=True),
        ServedFile("11111111-aaaa-4aaa-8aaa-000000000003", "c.counts.tsv", _payload(3),
                   md5="0" * 32),
        ServedFile("11111111-aaaa-4aaa-8aaa-000000000004", "d.counts.tsv", _payload(4),
                   drop_first=True, ignore_range=True),
        ServedFile("11111111-aaaa-4aaa-8aaa-000000000005", "e.counts.tsv", _payload(5),
                   extra_bytes=5_000_000),
    ]
    srv = GDCServer(files)
    url = srv.start()
    yield srv, url
    srv.stop()


def _no_sleep(_: float) -> None:
    pass


def test_query_pages_through_the_files_endpoint(server):
    srv, url = server
    table = resolve_gdc_query({"op": "in", "content": {}}, api=url, page_size=2)
    assert table["id"].tolist() == [f.file_id for f in srv.files]
    assert table["size"].tolist() == [len(f.data) for f in srv.files]
    assert table["md5"].tolist() == [f.md5 for f in srv.files]
    assert sum(1 for m, p, _ in srv.requests if m == "POST") == 3


def test_fetch_resumes_checks_md5_and_is_idempotent(server, tmp_path):
    srv, url = server
    manifest = resolve_gdc_query({}, api=url)
    out = tmp_path / "dl"
    with pytest.raises(UserError, match="1 of 5 file"):
        fetch(manifest, out, api=url, backoff=0, sleep=_no_sleep)
    report = pd.read_csv(out / "fetch_report.tsv", sep="\t", keep_default_na=False)
    status = dict(zip(report["filename"], report["status"], strict=True))
    assert status == {"a.counts.tsv": "downloaded", "b.counts.tsv": "downloaded",
                      "c.counts.tsv": "failed", "d.counts.tsv": "downloaded",
                      "e.counts.tsv": "downloaded"}
    for f in srv.files:
        final = out / f.file_id / f.file_name
        if f.file_name == "c.counts.tsv":
            # the md5 mismatch leaves nothing under the final name, and no partial file
            assert not final.exists()
            assert list(final.parent.iterdir()) == []
            assert "md5 mismatch" in report.set_index("filename").loc[f.file_name, "reason"]
        else:
            assert final.read_bytes() == f.data  # the resumed download is byte-identical
    # the dropped connection was resumed with a Range request from where it stopped
    b = srv.files[1]
    ranges = [r for m, p, r in srv.requests if p == f"/data/{b.file_id}"]
    assert ranges[0] == "" and ranges[1] == f"bytes={len(b.data[: len(b.data) // 2])}-"
    # idempotent: a second run downloads nothing that is already complete
    before = len(srv.requests)
    with pytest.raises(UserError):
        fetch(manifest, out, api=url, backoff=0, sleep=_no_sleep)
    again = [p for m, p, _ in srv.requests[before:] if m == "GET"]
    assert all(p.endswith(srv.files[2].file_id) for p in again)
    report = pd.read_csv(out / "fetch_report.tsv", sep="\t", keep_default_na=False)
    assert (report["status"] == "present").sum() == 4


def test_manifest_names_that_leave_the_folder_are_refused(tmp_path):
    for name in ("../../x", "/etc/passwd", "a/../../b", "C:\\x", ".."):
        path = tmp_path / "m.txt"
        path.write_text("id\tfilename\tmd5\tsize\tstate\n"
                        f"11111111-aaaa-4aaa-8aaa-000000000001\t{name}\t\t10\treleased\n",
                        encoding="utf-8")
        with pytest.raises(InputFileError, match="not a plain relative name"):
            read_gdc_manifest(path)
    path.write_bytes(b"id\tfilename\tmd5\tsize\tstate\nx\ta\0b\t\t10\treleased\n")
    with pytest.raises(InputFileError, match="NUL byte"):
        read_gdc_manifest(path)
    table = pd.DataFrame({"id": ["x"], "filename": ["../../x"], "md5": [""], "size": [3],
                          "state": [""]})
    with pytest.raises(InputFileError):
        fetch(table, tmp_path / "out", api="http://127.0.0.1:9", retries=0)
    assert not (tmp_path / "x").exists()


def test_verify_and_the_command_line(server, tmp_path):
    srv, url = server
    filters = tmp_path / "query.filters.json"
    filters.write_text(json.dumps({"op": "and", "content": []}), encoding="utf-8")
    srv.files = [f for f in srv.files if f.file_name != "c.counts.tsv"]
    out = tmp_path / "dl"
    res = run_cli("fetch", str(filters), "--out", str(out), "--api", url)
    assert res.returncode == 0, res.stderr
    assert "4 downloaded" in res.stdout
    manifest = out / "gdc_manifest.txt"
    assert read_gdc_manifest(manifest)["id"].tolist() == [f.file_id for f in srv.files]
    res = run_cli("verify", str(manifest), str(out))
    assert res.returncode == 0 and "all 4" in res.stdout
    victim = out / srv.files[0].file_id / srv.files[0].file_name
    victim.write_bytes(b"x" + victim.read_bytes()[1:])
    table = verify(manifest, out)
    assert table.set_index("filename").loc[victim.name, "status"] == "md5 mismatch"
    res = run_cli("verify", str(manifest), str(out))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "md5 mismatch" in res.stdout


def test_the_shipped_data_manifests_are_valid():
    from conftest import REPO

    folder = REPO / "data_manifests"
    cdr = read_gdc_manifest(folder / "tcga_cdr.manifest.txt")
    assert cdr.loc[0, "filename"] == "TCGA-CDR-SupplementalTableS1.xlsx"
    assert cdr.loc[0, "md5"] == "a4591b2dcee39591f59e5e25a6ce75fa"
    for path in folder.glob("*.filters.json"):
        query = json.loads(path.read_text(encoding="utf-8"))
        fields = {c["content"]["field"]: c["content"]["value"] for c in query["content"]}
        assert fields["cases.project.project_id"] == ["TCGA-HNSC"], path.name
        assert fields["files.access"] == ["open"], path.name
