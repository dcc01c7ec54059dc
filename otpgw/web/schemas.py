"""marshmallow schemas for every request and response of the v1 contract.

Requests reject unknown fields, wrong types (no "6" for 6) and nulls, and load into the
service's typed requests; responses are dumped from the service's typed results. The
wire format (field names, RFC 3339 times, enum values) is written down here alone.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    missing,
    post_dump,
    post_load,
    validate,
    validates_schema,
)

from ..domain.addresses import client_network
from ..otp.types import SendRequest, VerifyRequest

# \Z, not $: "$" also matches before a final newline, so "123456\n" would pass
ID = validate.Regexp(r"[a-z2-7]{32}\Z", error="not a code id")
CODE = validate.Regexp(r"[0-9]{6,10}\Z", error="must be 6 to 10 digits")
LOCALE = validate.Regexp(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,2}\Z", error="not a locale tag")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = validate.Regexp(rf"(?:{_LABEL}\.)*{_LABEL}\Z", error="not a bare host name such as example.com")
APP_HASH = validate.Regexp(r"[A-Za-z0-9+/]{11}\Z", error="not an 11-character SMS Retriever app hash")


def iso(ms: int | str) -> str:
    """Epoch milliseconds as an RFC 3339 UTC timestamp (``2026-01-31T09:30:00.123Z``)."""
    second, millis = divmod(int(ms), 1000)
    return f"{_second(second)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)  # a response names now + a few minutes: the same seconds again and again
def _second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class Timestamp(fields.Field):
    """Epoch milliseconds out as RFC 3339 (dump only)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else iso(value)


class EnumValue(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.value


def _client_ip(value: str) -> None:
    try:
        client_network(value)
    except ValueError as exc:
        raise ValidationError(f"not a usable IP address ({exc})") from None


class _Request(Schema):
    phone = fields.String(validate=validate.Length(min=3, max=32))
    user_ref = fields.String(validate=validate.Length(min=1, max=128))
    client_ip = fields.String(validate=[validate.Length(max=64), _client_ip])

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._string_checks = {name: tuple(field.validators) for name, field in self.load_fields.items()
                               if type(field) is fields.String and field.data_key is None and field.attribute is None}
        self._required = frozenset(name for name, field in self.load_fields.items() if field.required)

    def load(self, data: Any, *, many: bool | None = None, partial: Any = None, unknown: str | None = None) -> Any:
        """marshmallow's load, with a shortcut for the common body (``_load_strings``)."""
        if many is None and partial is None and unknown is None and not self.many:
            loaded = self._load_strings(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)

    def _load_strings(self, data: Any) -> Any:
        """A body of declared string fields that pass their own validators and the schema's,
        loaded without marshmallow's machinery (~3 µs instead of ~25). Anything else (an
        integer field, an unknown or missing field, another type, a failing check) returns
        None and takes the full path, so what is accepted and every error stay marshmallow's."""
        if type(data) is not dict or not self._required.issubset(data):
            return None
        try:
            for name, value in data.items():
                if type(value) is not str:
                    return None
                for check in self._string_checks[name]:
                    check(value)
            self._check_whole(data)
        except (KeyError, ValidationError):
            return None
        return self._make(data)

    def _check_whole(self, data: dict) -> None:
        """The schema's own ``validates_schema`` checks, for ``_load_strings``."""

    @staticmethod
    def _plain(data: dict) -> dict:
        return data


class SendRequestSchema(_Request):
    phone = fields.String(required=True, validate=validate.Length(min=3, max=32))
    locale = fields.String(validate=LOCALE)
    code_length = fields.Integer(strict=True, validate=validate.Range(6, 10))
    ttl = fields.Integer(strict=True, validate=validate.Range(1, 600))
    webotp_domain = fields.String(validate=[validate.Length(max=253), HOST],
                                  metadata={"description": "WebOTP: the last line becomes `@<domain> #<code>`"})
    app_hash = fields.String(validate=APP_HASH,
                             metadata={"description": "Android SMS Retriever: the message ends with this app hash"})

    @validates_schema
    def _one_format(self, data: dict, **_: object) -> None:
        if data.get("webotp_domain") and data.get("app_hash"):
            raise ValidationError("a message carries either webotp_domain or app_hash, not both", "app_hash")

    def _check_whole(self, data: dict) -> None:
        self._one_format(data)

    @post_load
    def _make(self, data: dict, **_: object) -> SendRequest:
        return SendRequest(**self._plain(data))


class VerifyRequestSchema(_Request):
    id = fields.String(validate=ID)
    code = fields.String(required=True, validate=CODE)

    @validates_schema
    def _needs_id_or_phone(self, data: dict, **_: object) -> None:
        if not data.get("id") and not data.get("phone"):
            raise ValidationError("give the code's id or the phone it was sent to", "id")

    def _check_whole(self, data: dict) -> None:
        self._needs_id_or_phone(data)

    @post_load
    def _make(self, data: dict, **_: object) -> VerifyRequest:
        return VerifyRequest(**self._plain(data))


class Response(Schema):
    """A response: fields without a value (None) are left out, not sent as null."""

    @post_dump
    def _drop_none(self, data: dict, **_: object) -> dict:
        return {k: v for k, v in data.items() if v is not None}


class _FlatResponse(Response):
    """A response of flat fields read from a result object's attributes, dumped without
    marshmallow's machinery: each field's own ``_serialize``, then ``_drop_none`` (~3 µs
    instead of ~15). A dict, ``many`` or a schema with another kind of field goes the full way."""

    _FLAT = (fields.String, fields.Boolean, fields.Integer, EnumValue, Timestamp)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        dumped = self.dump_fields.items()
        flat = all(type(f) in self._FLAT and f.data_key is None and f.dump_default is missing for _, f in dumped)
        self._flat = tuple((name, f.attribute or name, f._serialize) for name, f in dumped) if flat else None

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if self._flat is None or many or self.many or isinstance(obj, dict):
            return super().dump(obj, many=many)
        body = {}
        for name, attribute, serialize in self._flat:
            value = serialize(getattr(obj, attribute), name, obj)
            if value is not None:
                body[name] = value
        return body


class SendResponseSchema(_FlatResponse):
    id = fields.String(attribute="code_id")
    status = EnumValue()
    expires_at = Timestamp(attribute="expires_ms")
    resend_after = Timestamp(attribute="resend_after_ms")


class VerifyResponseSchema(_FlatResponse):
    valid = fields.Boolean()
    id = fields.String(attribute="code_id")
    status = EnumValue()
    reason = EnumValue()
    attempts_left = fields.Integer()


class DeliverySchema(Schema):
    """A code's delivery; the optional fields appear only when they say something."""

    OPTIONAL = ("carrier_ids", "error_code", "detail")
    status = EnumValue()
    transport = fields.String()
    updated_at = Timestamp(attribute="updated_ms")
    carrier_ids = fields.List(fields.String())
    parts = fields.Integer()
    error_code = fields.String()
    detail = fields.String()

    @post_dump
    def _drop_empty(self, data: dict, **_: object) -> dict:
        for name in self.OPTIONAL:
            if not data.get(name):
                data.pop(name, None)
        if data.get("parts", 0) <= 1:  # shown for a message of several segments
            data.pop("parts", None)
        return data


DELIVERY = DeliverySchema()


class StatusResponseSchema(Schema):
    """Dumped from ``StatusResult``: the record, and the status it has now."""

    id = fields.Function(lambda r: r.record.code_id)
    status = fields.Function(lambda r: r.status.value)
    attempts = fields.Function(lambda r: r.record.attempts)
    created_at = fields.Function(lambda r: iso(r.record.created_ms))
    expires_at = fields.Function(lambda r: iso(r.record.expires_ms))
    delivery = fields.Function(lambda r: DELIVERY.dump(r.record.delivery))


class CancelResponseSchema(_FlatResponse):
    id = fields.String(attribute="code_id")
    status = EnumValue()
