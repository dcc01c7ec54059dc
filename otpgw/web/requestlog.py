"""Request id in and out, one access line per request, and the latency histogram."""
from __future__ import annotations

import functools
import logging
import random
import re
import time

from flask import Flask, g, request

from .. import logs
from ..events import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET = ("/healthz", "/readyz", "/metrics")  # probes every few seconds are noise
access = logging.getLogger("otpgw.access")


def init_request_log(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_release)


def _start() -> None:
    logs.hold_lines()  # the request's audit and access lines go out together (one write)
    given = request.headers.get("X-Request-ID", "")
    state = g._get_current_object()
    state.request_id = given if _REQUEST_ID.match(given) else _new_request_id()
    state.started = time.perf_counter()


def _new_request_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` gave, at a tenth of the cost: an id to find a
    request's lines by, not a secret (``random`` is reseeded in every forked worker)."""
    return f"{random.getrandbits(128):032x}"


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
    logs.release_lines()
    return response


def _release(_: BaseException | None = None) -> None:
    """Whatever happened to the request, its held lines are written."""
    logs.release_lines()


@functools.lru_cache(maxsize=512)  # routes x methods x statuses: a few dozen children
def _latency(endpoint: str, method: str, status: int):
    """The latency histogram's child, bound once (``labels()`` takes a lock and builds a key)."""
    return metrics.LATENCY.labels(endpoint=endpoint, method=method, status=status)
