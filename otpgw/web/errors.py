"""The one JSON error envelope, for otpgw's errors, werkzeug's and anything unexpected.

``{"error": {"code", "message", "details"}}`` with ``Retry-After`` on 423 and 429 and
``Allow`` on 405. A 500 never shows exception text; it is logged with its traceback.
"""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException

from ..errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    OtpgwError,
    PayloadTooLarge,
    UnsupportedMediaType,
)

log = logging.getLogger("otpgw.web")

_HTTP_ERRORS = {400: InvalidRequest, 404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge,
                415: UnsupportedMediaType}


def init_errors(app: Flask) -> None:
    app.register_error_handler(OtpgwError, render)
    app.register_error_handler(HTTPException, _render_http)
    app.register_error_handler(Exception, _render_unexpected)


def render(error: OtpgwError):
    return error.to_dict(), error.status, error.headers


def _render_http(error: HTTPException):
    mapped = _HTTP_ERRORS.get(error.code or 500)
    if mapped is None:
        mapped = type("HttpError", (OtpgwError,), {"status": error.code, "code": "http_error"})
    messages = {InvalidRequest: error.description, NotFound: "no such path"}
    body, status, headers = render(mapped(messages.get(mapped, "")))
    allowed = getattr(error, "valid_methods", None)  # RFC 9110: a 405 names what is allowed
    return body, status, {**headers, "Allow": ", ".join(allowed)} if allowed else headers


def _render_unexpected(error: Exception):
    log.error("unhandled error: %s", type(error).__name__, exc_info=error)
    return render(OtpgwError("internal error"))
