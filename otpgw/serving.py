"""What otpgw adds to gunicorn: its errors in the envelope, and probes that never queue.

- gunicorn answers a request it cannot parse (a malformed header, a request line too
  long, bad chunking) itself, before the app sees it, with an HTML page. ``write_error``
  replaces that page with otpgw's JSON envelope, so every answer a caller gets has one
  shape.
- Probes on the API port share the workers' connection slots: a few hundred clients
  that stall inside their bodies would make ``/healthz`` time out and a liveness probe
  restart a healthy pod. ``start_master_probes`` serves ``/healthz``, ``/readyz`` and
  ``/metrics`` from the gunicorn master on a port of their own (``OTPGW_HEALTH_PORT``),
  answered whatever the workers are doing; gunicorn itself replaces a worker that stops
  answering its heartbeat.
- Draining: while the file ``OTPGW_DRAIN_FILE`` exists (``otpgw drain``, the pod's preStop
  hook), every answer says ``Connection: close`` and ends its connection, so load
  balancers and clients drop kept-alive connections cleanly after a complete answer
  instead of having them reset when the server stops.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

_CODES = {400: "invalid_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
          431: "headers_too_large", 500: "internal", 501: "not_implemented"}
_probe_server: Any = None
DRAIN_FILE = os.environ.get("OTPGW_DRAIN_FILE", "/tmp/otpgw-draining")
_drain = {"checked": 0.0, "on": False}


def draining() -> bool:
    """Whether the drain file exists, looked up at most once a second."""
    now = time.monotonic()
    if now - _drain["checked"] >= 1.0:
        _drain["checked"], _drain["on"] = now, os.path.exists(DRAIN_FILE)
    return _drain["on"]


def close_when_draining(request: Any) -> None:
    """gunicorn's pre_request: a request served while draining ends its connection."""
    if draining():
        request.must_close = True


def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answer, as otpgw's JSON envelope (the socket is then closed)."""
    from gunicorn import util

    body = json.dumps({"error": {"code": _CODES.get(status_int, "http_error"),
                                 "message": mesg or reason, "details": {}}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin1")
    util.write_nonblock(sock, head + body)


def install_error_writer() -> None:
    from gunicorn import util

    util.write_error = write_error


def start_master_probes(arbiter: Any) -> None:
    """Serve the probes from the master, in a thread, on ``OTPGW_HEALTH_PORT`` (0: off)."""
    global _probe_server
    port = int(os.environ.get("OTPGW_HEALTH_PORT", "8079"))
    if not port:
        return
    from .config import load_settings
    from .delivery.lanes import SHARED
    from .events import metrics
    from .store import Store
    from .web import Probes, probe_app, serve_in_thread

    store = Store.connect(load_settings())

    def ready() -> dict[str, Any]:
        store.ping()
        return {"ready": bool(arbiter.WORKERS), "workers": len(arbiter.WORKERS)}

    def refresh() -> None:
        metrics.observe_lanes(store.queue, SHARED, int(time.time() * 1000))

    host = os.environ.get("OTPGW_HEALTH_HOST", "0.0.0.0")
    try:
        _probe_server = serve_in_thread(probe_app(Probes(ready, refresh)), host, port, "otpgw-master-probes")
    except OSError as exc:  # the API port still answers the probes; say loudly why these do not
        arbiter.log.error("otpgw: cannot serve the probes on %s:%s (%s); OTPGW_HEALTH_PORT=0 turns them off",
                          host, port, exc)


def close_in_worker() -> None:
    """A forked worker closes its copy of the master's probe socket."""
    if _probe_server is not None:
        _probe_server.socket.close()
