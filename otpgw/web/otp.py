"""The /otp blueprint: thin views. Load with a schema, call the service, dump.

Each view has one success status; every other outcome is an exception from
``otpgw.errors`` rendered by the one handler in ``web.errors``. ``OPERATIONS`` describes
the views for the OpenAPI document (``web.openapi``).
"""
from __future__ import annotations

import json
import re

from flask import Blueprint, Response, current_app, g, request
from marshmallow import ValidationError

from ..errors import InvalidRequest, NotFound
from ..otp.service import OtpService
from . import schemas
from .auth import authenticate
from .body import load

bp = Blueprint("otp", __name__, url_prefix="/otp")
bp.before_request(authenticate)
# Built once: a schema instance is reusable and building one costs ~0.1 ms per request.
SEND_IN, SEND_OUT = schemas.SendRequestSchema(), schemas.SendResponseSchema()
VERIFY_IN, VERIFY_OUT = schemas.VerifyRequestSchema(), schemas.VerifyResponseSchema()
STATUS_OUT, CANCEL_OUT = schemas.StatusResponseSchema(), schemas.CancelResponseSchema()


def service() -> OtpService:
    return current_app.extensions["otpgw.service"]


def path_id(code_id: str) -> str:
    try:
        schemas.ID(code_id)
    except ValidationError:
        raise NotFound() from None
    return code_id


_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header: 1-255 visible ASCII characters, or absent."""
    given = request.headers.get("Idempotency-Key")
    if given is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(given):
        raise InvalidRequest("the Idempotency-Key header must be 1 to 255 visible ASCII characters",
                             details={"header": "Idempotency-Key"})
    return given


@bp.post("/send")
def send():
    result = service().send(load(SEND_IN), g.client, idempotency_key=idempotency_key())
    return answer(SEND_OUT.dump(result), 202, {"Idempotent-Replayed": "true"} if result.replayed else None)


@bp.post("/verify")
def verify():
    return answer(VERIFY_OUT.dump(service().verify(load(VERIFY_IN), g.client)))


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def answer(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The response Flask's JSON provider makes of ``body`` (compact, ASCII-escaped, a final
    newline, ``application/json``), built directly: the two busiest views skip its
    per-call encoder and argument handling."""
    response = Response(_ENCODE(body) + "\n", status=status, content_type="application/json")
    if headers:
        response.headers.update(headers)  # after Content-Type and Content-Length, as Flask adds them
    return response


@bp.get("/<string(length=32):code_id>")
def status(code_id: str):
    return STATUS_OUT.dump(service().status(path_id(code_id), g.client))


@bp.post("/<string(length=32):code_id>/cancel")
def cancel(code_id: str):
    return CANCEL_OUT.dump(service().cancel(path_id(code_id), g.client))


_ERRORS = {400: None, 401: None, 503: None}
OPERATIONS = [
    {"method": "post", "path": "/otp/send", "summary": "Send a one-time code to a phone", "tags": ["otp"],
     "description": "Answers once the code is stored and its SMS queued. With an `Idempotency-Key`, a repeat of a "
                    "successful send within 24 h returns the first answer (header `Idempotent-Replayed: true`) and "
                    "sends nothing; the same key with another body is 422 `idempotency_mismatch`.",
     "request": schemas.SendRequestSchema, "parameters": ["Idempotency-Key"],
     "responses": {202: schemas.SendResponseSchema, **_ERRORS, 403: None, 408: None, 413: None, 415: None,
                   422: None, 423: None, 429: None}},
    {"method": "post", "path": "/otp/verify", "summary": "Check the code a user typed", "tags": ["otp"],
     "description": "200 for a right code (`valid: true`) and for a wrong one with attempts left; every other "
                    "outcome is an error whose code names the exact reason.",
     "request": schemas.VerifyRequestSchema,
     "responses": {200: schemas.VerifyResponseSchema, **_ERRORS, 404: None, 408: None, 410: None, 413: None,
                   415: None, 423: None, 429: None}},
    {"method": "get", "path": "/otp/{code_id}", "summary": "A code's status and delivery", "tags": ["otp"],
     "request": None, "responses": {200: schemas.StatusResponseSchema, 401: None, 404: None, 503: None}},
    {"method": "post", "path": "/otp/{code_id}/cancel", "summary": "Cancel a pending code", "tags": ["otp"],
     "request": None, "responses": {200: schemas.CancelResponseSchema, 401: None, 404: None, 503: None}},
]
