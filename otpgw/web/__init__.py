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

__all__ = ["Probes", "init_api", "probe_app", "serve_in_thread", "make_server"]


def _base(name: str, probes: Probes) -> Flask:
    app = Flask(name)
    app.json.sort_keys = False
    init_request_log(app)
    init_errors(app)
    init_health(app, probes)
    return app


def init_api(name: str, probes: Probes, *, max_body_bytes: int, body_timeout: float, demo: bool = False) -> Flask:
    """The API app: health plus the /otp blueprint (services are put in by the caller)."""
    from . import callbacks, factors, messages, otp

    app = _base(name, probes)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.config["otpgw.body_timeout"] = body_timeout
    app.register_blueprint(otp.bp)
    _init_integrations(app, demo)
    app.register_blueprint(factors.bp)
    app.register_blueprint(callbacks.bp)
    app.register_blueprint(messages.bp)
    return app


def probe_app(probes: Probes) -> Flask:
    """A worker's probe port: /healthz, /readyz, /metrics and nothing else."""
    return _base("otpgw.worker", probes)


def make_server(app: Flask, host: str, port: int):
    """A threaded werkzeug server for ``app`` (dev mode, a worker's probe port)."""
    from werkzeug.serving import make_server as werkzeug_server

    return werkzeug_server(host, port, app, threaded=True)


def serve_in_thread(app: Flask, host: str, port: int, name: str):
    """Serve ``app`` on ``host:port`` from a daemon thread; returns the server (``shutdown``)."""
    import threading

    server = make_server(app, host, port)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def _init_integrations(app: Flask, demo: bool) -> None:
    """The OpenAPI document and /docs, the Twilio Verify surface, and dev mode's demo page."""
    from . import openapi, twilio_verify

    app.register_blueprint(openapi.bp)
    app.register_blueprint(twilio_verify.bp)
    if demo:
        from . import demo as demo_page

        app.register_blueprint(demo_page.bp)
