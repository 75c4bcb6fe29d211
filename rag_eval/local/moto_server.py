"""moto in server mode on loopback, its WSGI app optionally wrapped (to save its state).

What moto's ThreadedMotoServer does, with one difference: the app it serves can be wrapped,
so that `LocalState` sees every request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class MotoServer:
    def __init__(
        self,
        host: str,
        port: int,
        wrap: Callable[[Any], Any] | None = None,
    ) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        # Binds now, so that a port in use fails here (werkzeug's server reuses addresses:
        # a port in TIME_WAIT after a stop is free to take).
        self._server = make_server(
            host,
            port,
            wrap(app) if wrap else app,
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]  # (str, int) on IPv4/6
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
