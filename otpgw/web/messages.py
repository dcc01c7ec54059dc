"""The gateway's blueprint: /messages, /batches and /inbound. Thin views, as /otp's.

Every call needs an API key whose client may use the messages API
(``messages_allowed``; 403 ``messages_not_allowed`` otherwise). ``POST /messages`` takes
a larger body than the rest of the API (``OTPGW_MESSAGES_MAX_BODY_BYTES``: thousands of
numbers), read within the same time limit.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, request
from marshmallow import Schema, ValidationError

from ..errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from ..otp.messages import MessageService
from . import message_schemas as schemas
from .auth import authenticate
from .body import _deadline, _read_limited
from .otp import idempotency_key

bp = Blueprint("messages", __name__)
SUBMIT_IN, SUBMIT_OUT = schemas.SubmitRequestSchema(), schemas.SubmitResponseSchema()
MESSAGE_OUT, BATCH_OUT = schemas.MessageResponseSchema(), schemas.BatchResponseSchema()
BATCH_QUERY, INBOUND_QUERY = schemas.BatchQuerySchema(), schemas.InboundQuerySchema()
INBOUND_OUT = schemas.InboundResponseSchema()


def service() -> MessageService:
    return current_app.extensions["otpgw.messages"]


@bp.before_request
def _allowed() -> None:
    authenticate()
    service().allowed(g.client)


def load_large(schema: Schema) -> Any:
    """The JSON body, up to ``OTPGW_MESSAGES_MAX_BODY_BYTES``, loaded by ``schema``."""
    if not request.is_json:
        raise UnsupportedMediaType()
    limit = current_app.extensions["otpgw.settings"].messages.max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(details={"max_bytes": limit})
    with _deadline(current_app.config["otpgw.body_timeout"]):
        raw = _read_limited(request.environ["wsgi.input"], limit, declared)
    try:
        body = json.loads(raw)
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply") from None
    except ValueError:
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return _load(schema, body)


def query(schema: Schema) -> dict[str, Any]:
    return _load(schema, request.args.to_dict())


def _load(schema: Schema, data: dict) -> Any:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidRequest("the request has invalid fields", details=exc.messages) from None


@bp.post("/messages")
def submit():
    result = service().submit(load_large(SUBMIT_IN), g.client, idempotency_key=idempotency_key())
    return SUBMIT_OUT.dump(result), 202, {"Idempotent-Replayed": "true"} if result.replayed else {}


@bp.get("/messages/<string(maxlength=40):message_id>")
def message(message_id: str):
    return MESSAGE_OUT.dump(service().message(message_id, g.client))


@bp.get("/batches/<string(maxlength=40):batch_id>")
def batch(batch_id: str):
    return BATCH_OUT.dump(service().batch(batch_id, g.client, **query(BATCH_QUERY)))


@bp.post("/batches/<string(maxlength=40):batch_id>/cancel")
def cancel(batch_id: str):
    return BATCH_OUT.dump(service().cancel(batch_id, g.client))


@bp.get("/inbound")
def inbound():
    return INBOUND_OUT.dump(service().inbound(g.client, **query(INBOUND_QUERY)))


def _parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "description": description, "schema": schema}


PAGE = [_parameter("cursor", "position of the first message listed (from `next_cursor`)", type="integer",
                   minimum=0, maximum=10_000_000, default=0),
        _parameter("limit", "messages listed (0: the counts only)", type="integer", minimum=0, maximum=1000,
                   default=100)]
INBOUND_PAGE = [_parameter("limit", "messages listed", type="integer", minimum=1, maximum=500, default=50),
                _parameter("before", "list those older than this id (from `next_before`)", type="string",
                           pattern=r"^[0-9]{1,20}-[0-9]{1,20}$")]
_ERRORS = {400: None, 401: None, 403: None, 503: None}
OPERATIONS = [
    {"method": "post", "path": "/messages", "summary": "Send a text to one or many numbers, now or later",
     "tags": ["messages"],
     "description": "Answers once every message is stored and queued (or scheduled). Invalid numbers are listed "
                    "in `invalid`, numbers given twice in `duplicates`, opted-out ones in `opted_out`; the rest "
                    "get one message id each. With an `Idempotency-Key`, a repeat within 24 h returns the first "
                    "answer and sends nothing new. Needs a client with `messages_allowed`.",
     "request": schemas.SubmitRequestSchema, "parameters": ["Idempotency-Key"],
     "responses": {202: schemas.SubmitResponseSchema, **_ERRORS, 408: None, 409: None, 413: None, 415: None,
                   422: None, 429: None}},
    {"method": "get", "path": "/messages/{message_id}", "summary": "A message's status and delivery",
     "tags": ["messages"], "request": None,
     "responses": {200: schemas.MessageResponseSchema, **_ERRORS, 404: None}},
    {"method": "get", "path": "/batches/{batch_id}", "summary": "A batch: counts by status and a page of messages",
     "tags": ["messages"], "request": None, "parameters": PAGE,
     "responses": {200: schemas.BatchResponseSchema, **_ERRORS, 404: None}},
    {"method": "post", "path": "/batches/{batch_id}/cancel", "summary": "Stop what has not left yet",
     "tags": ["messages"], "request": None,
     "responses": {200: schemas.BatchResponseSchema, **_ERRORS, 404: None}},
    {"method": "get", "path": "/inbound", "summary": "Recent SMS from numbers this client wrote to, newest first",
     "tags": ["messages"], "request": None, "parameters": INBOUND_PAGE,
     "responses": {200: schemas.InboundResponseSchema, **_ERRORS}},
]
