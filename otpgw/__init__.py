"""otpgw: one-time codes over SMS, stored in Redis, verified under limits and lockout."""
from __future__ import annotations

import logging
from typing import Callable

from flask import Flask
from werkzeug.exceptions import HTTPException

from . import api, health
from .logs import init_request_logging
from .config import Settings, load_settings
from .connection import connect
from .errors import MethodNotAllowed, NotFound, OtpgwError, PayloadTooLarge, InvalidRequest, UnsupportedMediaType
from .service import OtpService
from .store import RedisStore

__all__ = ["create_app"]
log = logging.getLogger(__name__)

_HTTP_ERRORS = {400: InvalidRequest, 404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge,
                415: UnsupportedMediaType}


def create_app(settings: Settings | None = None, *, redis_client=None, embedded: bool = False,
               clock: Callable[[], float] | None = None) -> Flask:
    """Wire settings, store, service, blueprints and the one error handler."""
    settings = settings or load_settings()
    store = RedisStore(redis_client or connect(settings, embedded=embedded), settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions["otpgw.service"] = OtpService(settings, store, **({"clock": clock} if clock else {}))
    init_request_logging(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_error_handler(OtpgwError, _render)
    app.register_error_handler(HTTPException, _render_http)
    app.register_error_handler(Exception, _render_unexpected)
    return app


def _render(error: OtpgwError):
    return error.to_dict(), error.status, error.headers


def _render_http(error: HTTPException):
    mapped = _HTTP_ERRORS.get(error.code or 500)
    if mapped is None:
        mapped = type("HttpError", (OtpgwError,), {"status": error.code, "code": "http_error"})
    messages = {InvalidRequest: error.description, NotFound: "no such path"}
    body, status, headers = _render(mapped(messages.get(mapped, "")))
    allowed = getattr(error, "valid_methods", None)  # RFC 9110: a 405 names what is allowed
    return body, status, {**headers, "Allow": ", ".join(allowed)} if allowed else headers


def _render_unexpected(error: Exception):
    log.error("unhandled error: %s", type(error).__name__, exc_info=error)
    return _render(OtpgwError("internal error"))
