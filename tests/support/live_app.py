"""A real HTTP server for an app under test: werkzeug in a thread on a free loopback port."""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from otpgw.web import make_server

from conftest import free_port


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` for the duration; yields its base URL."""
    port = free_port()
    server = make_server(app, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
