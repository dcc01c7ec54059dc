"""Liveness, readiness and metrics endpoints.

Liveness never touches Redis: a Redis outage must not make Kubernetes restart healthy
pods. Readiness asks Redis and reloads the scripts if a restart flushed them.
"""
from __future__ import annotations

from flask import Blueprint, current_app

from . import metrics
from .errors import OtpgwError

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    current_app.extensions["otpgw.service"].store.ping()
    return {"status": "ready"}


@bp.get("/metrics")
def metrics_endpoint():
    service = current_app.extensions["otpgw.service"]
    try:
        metrics.observe_queue(service.store, service.settings.transport, service.now_ms())
    except OtpgwError:
        pass  # the counters are still worth scraping while Redis is away
    body, content_type = metrics.render()
    return body, 200, {"Content-Type": content_type}
