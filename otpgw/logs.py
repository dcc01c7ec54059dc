"""Structured JSON logs: one line per request, audit events, and a last-line redactor.

Phone numbers are masked where they are logged (``audit``); as a second guard the
formatter masks any free-standing run of six or more digits in a message, so a
careless log call still cannot print a number or a code in clear.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request

from . import metrics
from .phones import redact

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    _second, _stamp = -1, ""

    def _timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self._timestamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for extra in ("audit", "http"):
            if hasattr(record, extra):
                entry.update(getattr(record, extra))
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("werkzeug").setLevel("WARNING")


def init_request_logging(app: Flask) -> None:
    """Request id in and out, one access line per request, and the latency histogram."""
    access = logging.getLogger("otpgw.access")

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.LATENCY.labels(endpoint=endpoint, method=request.method, status=response.status_code).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if endpoint not in ("/healthz", "/readyz", "/metrics"):
            access.info("request", extra={"http": {
                "request_id": g.get("request_id", ""), "method": request.method, "path": endpoint,
                "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                "client": g.get("client", ""),
            }})
        return response
