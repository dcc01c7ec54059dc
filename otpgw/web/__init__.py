"""The web package: the only code that imports Flask, werkzeug and marshmallow.

``init_app`` registers what every otpgw web app has (the error envelope, the request
log, health) and the API's blueprints; ``probe_app`` builds the small app a delivery
worker serves on its probe port: the same health views, with the worker's own checks.
"""
from __future__ import annotations

from flask import Flask

from .errors import init_errors
from .health import Probes, init_health
from .requestlog import init_request_log

__all__ = ["Probes", "init_api", "probe_app"]


def _base(name: str, probes: Probes) -> Flask:
    app = Flask(name)
    app.json.sort_keys = False
    init_request_log(app)
    init_errors(app)
    init_health(app, probes)
    return app


def init_api(name: str, probes: Probes, *, max_body_bytes: int) -> Flask:
    """The API app: health plus the /otp blueprint (services are put in by the caller)."""
    from . import otp

    app = _base(name, probes)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.register_blueprint(otp.bp)
    return app


def probe_app(probes: Probes) -> Flask:
    """A worker's probe port: /healthz, /readyz, /metrics and nothing else."""
    return _base("otpgw.worker", probes)
