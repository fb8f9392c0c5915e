"""A local stand-in for the GDC API on 127.0.0.1: ``POST /files`` (paginated JSON hits) and
``GET /data/<id>`` (with HTTP Range), plus the faults a real download meets: a connection that
drops halfway, a server that ignores Range, and a body longer than announced."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ServedFile:
    file_id: str
    file_name: str
    data: bytes
    md5: str = ""  # what the API reports (the true md5 unless a test plants a wrong one)
    drop_first: bool = False  # first GET sends half the body, then closes the connection
    ignore_range: bool = False
    extra_bytes: int = 0  # send this many bytes beyond the announced size

    def __post_init__(self) -> None:
        if not self.md5:
            self.md5 = hashlib.md5(self.data).hexdigest()


@dataclass
class GDCServer:
    files: list[ServedFile]
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, range)
    _dropped: set[str] = field(default_factory=set)

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(("POST", self.path, ""))
                start, size = int(body.get("from", 0)), int(body.get("size", 10))
                hits = [{"id": f.file_id, "file_id": f.file_id, "file_name": f.file_name,
                         "md5sum": f.md5, "file_size": len(f.data), "state": "released"}
                        for f in server.files[start:start + size]]
                payload = json.dumps({"data": {"hits": hits, "pagination": {
                    "count": len(hits), "from": start, "size": size,
                    "total": len(server.files)}}, "warnings": {}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802
                rng = self.headers.get("Range", "")
                server.requests.append(("GET", self.path, rng))
                fid = self.path.rsplit("/", 1)[-1]
                match = [f for f in server.files if f.file_id == fid]
                if not self.path.startswith("/data/") or not match:
                    self.send_error(404)
                    return
                f = match[0]
                data = f.data + b"\0" * f.extra_bytes
                start = 0
                if rng.startswith("bytes=") and not f.ignore_range:
                    start = int(rng[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Disposition", f"attachment; filename={f.file_name}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if f.drop_first and fid not in server._dropped:
                    server._dropped.add(fid)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
