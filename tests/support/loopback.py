"""Small HTTP servers on loopback for the client's tests: a base that serves in a thread,
and an S3 stand-in for presigned POSTs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 (a free port) inside a `with` block."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Any:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class FakeS3(LoopbackServer):
    """An S3 stand-in for presigned POSTs: reads and keeps each form body, then answers
    `status` (204: taken) with `xml` (an S3 error document for a refusal)."""

    def __init__(self, bucket: str, status: int = 204, xml: str = "") -> None:
        self.bodies: list[bytes] = []
        answer = xml.encode()
        s3 = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                s3.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(status)
                if answer:
                    self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.url = f"{self.base}/{bucket}"

    @property
    def posts(self) -> int:
        return len(self.bodies)
