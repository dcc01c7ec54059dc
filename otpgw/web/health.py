"""Liveness, readiness and metrics: the same views on the API and on a worker's probe port.

Liveness never touches Redis: a Redis outage must not make Kubernetes restart healthy
pods. Readiness runs the process's own checks (``Probes``): the API asks Redis and
reloads the scripts if a restart flushed them; a worker also reports each transport.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Flask, current_app

from ..errors import OtpgwError, Unavailable
from ..events import metrics

bp = Blueprint("health", __name__)


@dataclass
class Probes:
    """What this process checks: ``ready`` raises OtpgwError or returns facts to show;
    ``refresh`` updates gauges before a scrape (may raise while Redis is away)."""

    ready: Callable[[], dict[str, Any]]
    refresh: Callable[[], None] = field(default=lambda: None)


def init_health(app: Flask, probes: Probes) -> None:
    app.extensions["otpgw.probes"] = probes
    app.register_blueprint(bp)


def _probes() -> Probes:
    return current_app.extensions["otpgw.probes"]


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    facts = _probes().ready()
    if facts.get("ready") is False:
        raise Unavailable("not ready", details={k: v for k, v in facts.items() if k != "ready"})
    return {"status": "ready", **{k: v for k, v in facts.items() if k != "ready"}}


@bp.get("/metrics")
def metrics_endpoint():
    try:
        _probes().refresh()
    except OtpgwError:
        pass  # the counters are still worth scraping while Redis is away
    body, content_type = metrics.render()
    return body, 200, {"Content-Type": content_type}
