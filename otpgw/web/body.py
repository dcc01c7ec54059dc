"""Request bodies: JSON objects only, loaded through a schema into the service's types."""
from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from ..errors import InvalidRequest, UnsupportedMediaType


def load(schema: Schema) -> Any:
    """The request's JSON body loaded by ``schema``; every malformed body is a 400."""
    if not request.is_json:
        raise UnsupportedMediaType()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise InvalidRequest("the request has invalid fields", details=exc.messages) from None
