"""Request id in and out, one access line per request, and the latency histogram."""
from __future__ import annotations

import functools
import logging
import re
import time
import uuid

from flask import Flask, g, request

from ..events import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET = ("/healthz", "/readyz", "/metrics")  # probes every few seconds are noise
access = logging.getLogger("otpgw.access")


def init_request_log(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.started = time.perf_counter()


def _finish(response):
    state, req = g._get_current_object(), request._get_current_object()  # one proxy lookup each
    elapsed = time.perf_counter() - getattr(state, "started", time.perf_counter())
    rule, method, status = req.url_rule, req.method, response.status_code
    endpoint = rule.rule if rule else "unmatched"
    _latency(endpoint, method, status).observe(elapsed)
    request_id = getattr(state, "request_id", "")
    response.headers["X-Request-ID"] = request_id
    if endpoint not in _QUIET:
        access.info("request", extra={"http": {
            "request_id": request_id, "method": method, "path": endpoint,
            "status": status, "duration_ms": round(elapsed * 1000, 2),
            "client": getattr(state, "client", ""),
        }})
    return response


@functools.lru_cache(maxsize=512)  # routes x methods x statuses: a few dozen children
def _latency(endpoint: str, method: str, status: int):
    """The latency histogram's child, bound once (``labels()`` takes a lock and builds a key)."""
    return metrics.LATENCY.labels(endpoint=endpoint, method=method, status=status)
