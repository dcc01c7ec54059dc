"""A real HTTP server for an app under test: werkzeug in a thread on a free loopback port."""
from __future__ import annotations

import contextlib
from typing import Iterator

from otpgw.web import serve_in_thread

from conftest import free_port


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` for the duration; yields its base URL."""
    port = free_port()
    server = serve_in_thread(app, "127.0.0.1", port, "otpgw-test-server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
