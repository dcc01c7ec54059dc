"""marshmallow schemas of /totp, /recovery and /factors: the wire format of the factors.

As in ``schemas``: requests reject unknown fields, wrong types (no "true" for true) and
nulls, and load into the services' typed requests; responses leave out fields without a
value and write times as RFC 3339.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate

from ..domain.addresses import client_network
from ..otp.factors import CodeRequest
from ..otp.recovery import RecoveryRequest
from ..otp.totp import QR_FORMATS, EnrollRequest
from .schemas import EnumValue, Response, Timestamp

USER_REF = validate.Length(min=1, max=128)
TOTP_CODE = validate.Regexp(r"[0-9]{6,8}\Z", error="must be 6 to 8 digits")
# Key Uri Format: neither the issuer nor the account name may contain a colon.
LABEL = validate.Regexp(r"[^:\x00-\x1f]{1,128}\Z", error="1 to 128 characters, no colon")
ISSUER = validate.Regexp(r"[^:\x00-\x1f]{1,64}\Z", error="1 to 64 characters, no colon")


def _recovery_code(value: str) -> None:
    """Letters and digits, dashes and spaces anywhere: 10 to 20 characters once they are gone."""
    bare = "".join(value.split()).replace("-", "")
    if len(value) > 48 or not 10 <= len(bare) <= 20 or not bare.isascii() or not bare.isalnum():
        raise ValidationError("not a recovery code (like abcde-23456)")


def _client_ip(value: str) -> None:
    try:
        client_network(value)
    except ValueError as exc:
        raise ValidationError(f"not a usable IP address ({exc})") from None


class StrictBoolean(fields.Boolean):
    """true or false, nothing that merely looks like one ("true", 1)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _UserRequest(Schema):
    user_ref = fields.String(required=True, validate=USER_REF)


class EnrollRequestSchema(_UserRequest):
    label = fields.String(validate=LABEL)
    issuer = fields.String(validate=ISSUER)
    replace = StrictBoolean()
    qr_format = fields.String(validate=validate.OneOf(QR_FORMATS))

    @post_load
    def _make(self, data: dict, **_: object) -> EnrollRequest:
        return EnrollRequest(**data)


class ActivateRequestSchema(_UserRequest):
    code = fields.String(required=True, validate=TOTP_CODE)

    @post_load
    def _make(self, data: dict, **_: object) -> CodeRequest:
        return CodeRequest(**data)


class TotpVerifyRequestSchema(ActivateRequestSchema):
    client_ip = fields.String(validate=[validate.Length(max=64), _client_ip])


class RecoveryGenerateRequestSchema(_UserRequest):
    @post_load
    def _make(self, data: dict, **_: object) -> RecoveryRequest:
        return RecoveryRequest(**data)


class RecoveryVerifyRequestSchema(_UserRequest):
    code = fields.String(required=True, validate=_recovery_code)
    client_ip = fields.String(validate=[validate.Length(max=64), _client_ip])

    @post_load
    def _make(self, data: dict, **_: object) -> CodeRequest:
        return CodeRequest(**data)


class EnrollResponseSchema(Response):
    factor = EnumValue()
    status = EnumValue()
    uri = fields.String()
    secret = fields.String()
    qr_code = fields.String()
    expires_at = Timestamp(attribute="expires_ms")
    digits = fields.Function(lambda e: e.params.digits)
    period = fields.Function(lambda e: e.params.period)
    algorithm = fields.Function(lambda e: e.params.algorithm)


class CheckResponseSchema(Response):
    valid = fields.Boolean()
    reason = EnumValue()
    factor = EnumValue()
    status = EnumValue()
    remaining = fields.Integer()


class RecoveryCodesResponseSchema(Response):
    factor = EnumValue()
    codes = fields.List(fields.String())
    created_at = Timestamp(attribute="created_ms")


class FactorSchema(Response):
    type = EnumValue()
    status = EnumValue()
    created_at = Timestamp(attribute="created_ms")
    activated_at = Timestamp(attribute="activated_ms")
    last_used_at = Timestamp(attribute="last_used_ms")
    expires_at = Timestamp(attribute="expires_ms")
    remaining = fields.Integer()
    total = fields.Integer()


class FactorListResponseSchema(Schema):
    user_ref = fields.String()
    factors = fields.List(fields.Nested(FactorSchema))


class RemovalResponseSchema(Schema):
    user_ref = fields.String()
    factor = EnumValue()
    status = fields.String()
