"""The OpenAPI 3 document of the API, generated from the marshmallow schemas, and /docs.

Protocol: any ``otpgw.web`` module whose blueprint is registered may define a list
``OPERATIONS`` of dicts::

    {"method": "post", "path": "/otp/send", "summary": "...", "tags": ["otp"],
     "request": SendRequestSchema,            # a Schema class, or None
     "responses": {202: SendResponseSchema,   # a Schema class, or None: for >= 400 anything
                   429: None},                # but a Schema is the error envelope; below 400 no body
     # optional:
     "description": "...", "parameters": ["Idempotency-Key", {...an OpenAPI parameter}],
     "security": [] (open) or [{"basic": []}] (default: bearer),
     "content_type": "application/x-www-form-urlencoded" (default: application/json),
     "operation_id": "..."}

``build`` collects them from every registered blueprint's module, so blueprints added by
later issues are covered by writing their ``OPERATIONS``. Every operation also gets the
``X-Request-ID`` header in and out; 423 and 429 document ``Retry-After``. The document
is built once per app and served at ``/openapi.json``; ``/docs`` is a self-contained page
(no CDN) that renders it.
"""
from __future__ import annotations

import functools
import os
import re
import sys
from importlib import metadata
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from marshmallow import Schema, fields

from .schemas import EnumValue, Timestamp

bp = Blueprint("openapi", __name__, static_folder="docs", static_url_path="/docs")


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable: rate_limited, locked, ..."})
    message = fields.String(required=True, metadata={"description": "a human sentence"})
    details = fields.Dict(required=True, metadata={"description": "facts about the error (limit, retry_after...)"})


class ErrorSchema(Schema):
    """The one error envelope of every endpoint."""

    error = fields.Nested(ErrorDetailSchema, required=True)


PARAMETERS = {
    "X-Request-ID": {"in": "header", "name": "X-Request-ID", "required": False,
                     "description": "Your id for this request (1-128 of A-Z a-z 0-9 . _ : -), echoed in the answer "
                                    "and the logs; one is made up when absent or malformed.",
                     "schema": {"type": "string", "maxLength": 128}},
    "Idempotency-Key": {"in": "header", "name": "Idempotency-Key", "required": False,
                        "description": "Makes a retry safe: the same key from the same client within 24 h returns "
                                       "the first answer and sends nothing new.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
}
HEADERS = {
    "X-Request-ID": {"description": "The request's id (yours, or one made up).", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "The scheme to authenticate with.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this is the first answer to an earlier request with the "
                                           "same Idempotency-Key.", "schema": {"type": "string", "enum": ["true"]}},
}
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Invalid request", 401: "Missing or unknown API key",
           403: "Forbidden", 404: "Not found (also another client's code)", 405: "Method not allowed",
           408: "The body did not arrive in time", 409: "Conflict", 410: "Gone: expired, used, canceled or dead",
           413: "Body too large", 415: "Not JSON", 422: "Unprocessable", 423: "Locked", 429: "Rate limited",
           500: "Internal error", 503: "Unavailable (store or key rotation); never a success"}
HEALTH = [
    {"method": "get", "path": "/healthz", "summary": "Liveness (never touches Redis)", "tags": ["health"],
     "security": [], "request": None, "responses": {200: None}, "content": "application/json"},
    {"method": "get", "path": "/readyz", "summary": "Readiness: Redis answers, scripts loaded", "tags": ["health"],
     "security": [], "request": None, "responses": {200: None, 503: None}, "content": "application/json"},
    {"method": "get", "path": "/metrics", "summary": "Prometheus metrics", "tags": ["health"], "security": [],
     "request": None, "responses": {200: None}, "content": "text/plain"},
]
OPERATIONS = [
    {"method": "get", "path": "/openapi.json", "summary": "This document", "tags": ["docs"], "security": [],
     "request": None, "responses": {200: None}, "content": "application/json"},
    {"method": "get", "path": "/docs", "summary": "The browsable API reference", "tags": ["docs"], "security": [],
     "request": None, "responses": {200: None}, "content": "text/html"},
]


def operations(app: Flask) -> list[dict[str, Any]]:
    """Every OPERATIONS entry of the registered blueprints' modules (health's from here)."""
    found: list[dict[str, Any]] = []
    for blueprint in app.blueprints.values():
        module = sys.modules.get(blueprint.import_name)
        declared = getattr(module, "OPERATIONS", None)
        if declared is None and blueprint.name == "health":
            declared = HEALTH
        found.extend(declared or ())
    return found


def build(app: Flask) -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title="otpgw", version=_version(), openapi_version="3.0.3", plugins=[plugin], info={
        "description": "Two-factor one-time codes over SMS. Errors always use the envelope "
                       '`{"error": {"code", "message", "details"}}`.'})
    plugin.map_to_openapi_type(EnumValue, "string", None)
    plugin.map_to_openapi_type(Timestamp, "string", "date-time")
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "An API key: `Authorization: Bearer <key>`."})
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic", "description":
                                              "Twilio Verify compatible: account SID (or client name) and API key."})
    for name, parameter in PARAMETERS.items():
        spec.components.parameter(name, parameter["in"], {k: v for k, v in parameter.items() if k != "in"})
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    spec.components.schema("Error", schema=ErrorSchema)
    by_path: dict[str, dict[str, Any]] = {}
    for op in operations(app):
        by_path.setdefault(op["path"], {})[op["method"].lower()] = _operation(op)
    for path, ops in by_path.items():
        spec.path(path=path, operations=ops)
    return _ecma_patterns(spec.to_dict())


def _ecma_patterns(node: Any) -> Any:
    """JSON Schema patterns are ECMA regexes that search: Python's ``X\\Z`` (matched from the
    start by marshmallow) is written ``^(?:X)$``."""
    if isinstance(node, dict):
        return {k: (f"^(?:{v[:-2]})$" if k == "pattern" and isinstance(v, str) and v.endswith("\\Z")
                    else _ecma_patterns(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_ecma_patterns(v) for v in node]
    return node


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def _version() -> str:
    try:
        return metadata.version("otpgw")
    except metadata.PackageNotFoundError:
        return "0"


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    params = [*op.get("parameters", ()), "X-Request-ID"]  # a string names a component parameter
    named = {p["name"] for p in params if isinstance(p, dict)}
    params += [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
               for name in re.findall(r"{(\w+)}", op["path"]) if name not in named]
    operation: dict[str, Any] = {
        "summary": op["summary"], "tags": op.get("tags", []), "parameters": params,
        "operationId": op.get("operation_id") or _operation_id(op),
        "responses": {str(status): _response(status, schema, op) for status, schema in op["responses"].items()}}
    if op.get("description"):
        operation["description"] = op["description"]
    if "security" in op:
        operation["security"] = op["security"]
    if op.get("request") is not None:
        content_type = op.get("content_type", "application/json")
        operation["requestBody"] = {"required": True, "content": {content_type: {"schema": op["request"]}}}
    return operation


def _operation_id(op: dict[str, Any]) -> str:
    words = re.findall(r"[A-Za-z0-9]+", op["path"].replace("{", "by_"))
    return op["method"].lower() + "".join(w[:1].upper() + w[1:] for w in words)


def _response(status: int, schema: Any, op: dict[str, Any]) -> dict[str, Any]:
    named = ["X-Request-ID"] + (["Retry-After"] if status in (423, 429) else []) + (
        ["WWW-Authenticate"] if status == 401 else []) + (
        ["Idempotent-Replayed"] if "Idempotency-Key" in op.get("parameters", ()) and status < 300 else [])
    headers = {name: name for name in named}  # a string names a component header
    response: dict[str, Any] = {"description": REASONS.get(status, str(status)), "headers": headers}
    if status >= 400:
        own = isinstance(schema, Schema) or (isinstance(schema, type) and issubclass(schema, Schema))
        response["content"] = {"application/json": {"schema": schema if own else ErrorSchema}}
    elif schema is not None:
        response["content"] = {op.get("response_content", "application/json"): {"schema": schema}}
    elif op.get("content"):
        response["content"] = {op["content"]: {"schema": {}}}
    return response


def document() -> dict[str, Any]:
    """This app's document, built on first use."""
    extensions = current_app.extensions
    if "otpgw.openapi" not in extensions:
        extensions["otpgw.openapi"] = build(current_app)
    return extensions["otpgw.openapi"]


@bp.get("/openapi.json")
def openapi_json():
    return document()


@bp.get("/docs")
def docs():
    return _page(), 200, {"Content-Type": "text/html; charset=utf-8"}


@functools.cache
def _page() -> bytes:
    with open(os.path.join(bp.static_folder, "index.html"), "rb") as fh:
        return fh.read()
