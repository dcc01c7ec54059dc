"""Request id in and out, one access line per request, and the latency histogram."""
from __future__ import annotations

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
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.LATENCY.labels(endpoint=endpoint, method=request.method, status=response.status_code).observe(elapsed)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if endpoint not in _QUIET:
        access.info("request", extra={"http": {
            "request_id": g.get("request_id", ""), "method": request.method, "path": endpoint,
            "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
            "client": g.get("client", ""),
        }})
    return response
