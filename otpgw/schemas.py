"""marshmallow schemas for every request and response of the v1 contract.

Requests reject unknown fields, wrong types (no "6" for 6) and nulls; responses are
dumped through a schema too, so the wire format is written down in one place.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

ID = validate.Regexp(r"^[a-z2-7]{32}$", error="not a code id")
CODE = validate.Regexp(r"^[0-9]{6,10}$", error="must be 6 to 10 digits")
LOCALE = validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,2}$", error="not a locale tag")


class _Request(Schema):
    phone = fields.String(validate=validate.Length(min=3, max=32))
    user_ref = fields.String(validate=validate.Length(min=1, max=128))
    client_ip = fields.IP()


class SendRequestSchema(_Request):
    phone = fields.String(required=True, validate=validate.Length(min=3, max=32))
    locale = fields.String(validate=LOCALE)
    code_length = fields.Integer(strict=True, validate=validate.Range(6, 10))
    ttl = fields.Integer(strict=True, validate=validate.Range(1, 600))


class VerifyRequestSchema(_Request):
    id = fields.String(validate=ID)
    code = fields.String(required=True, validate=CODE)

    @validates_schema
    def _needs_id_or_phone(self, data: dict, **_: object) -> None:
        if not data.get("id") and not data.get("phone"):
            raise ValidationError("give the code's id or the phone it was sent to", "id")


class SendResponseSchema(Schema):
    id = fields.String()
    status = fields.String()
    expires_at = fields.String()
    resend_after = fields.String()


class VerifyResponseSchema(Schema):
    valid = fields.Boolean()
    id = fields.String()
    status = fields.String()
    reason = fields.String()
    attempts_left = fields.Integer()


class DeliverySchema(Schema):
    status = fields.String()
    transport = fields.String()
    updated_at = fields.String()
    carrier_ids = fields.List(fields.String())
    detail = fields.String()


class StatusResponseSchema(Schema):
    id = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    created_at = fields.String()
    expires_at = fields.String()
    delivery = fields.Nested(DeliverySchema)


class CancelResponseSchema(Schema):
    id = fields.String()
    status = fields.String()
