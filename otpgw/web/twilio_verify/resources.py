"""Twilio Verify v2's wire format: the form parameters its SDKs send and the resources they read.

Requests are ``application/x-www-form-urlencoded`` with Twilio's capitalised names.
Parameters otpgw cannot honour without weakening its rules (a caller-chosen code, a
custom message, Twilio template SIDs, PSD2 amounts) are refused with 60200 rather than
silently ignored; a few that only label or tune Twilio's side are accepted and ignored.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..schemas import APP_HASH, LOCALE

STATUSES = {"pending": "pending", "approved": "approved", "canceled": "canceled", "expired": "expired",
            "max_attempts": "max_attempts_reached"}
REFUSED = ("CustomCode", "CustomMessage", "Amount", "Payee", "TemplateSid", "Templates",
           "TemplateCustomSubstitutions", "ChannelConfiguration", "SendDigits")
IGNORED = ("CustomFriendlyName", "Tags", "RiskCheck", "EnableSnaClientToken", "RateLimits")


def _refuse_unsupported(data: dict) -> None:
    given = [name for name in REFUSED if name in data]
    if given:
        raise ValidationError(f"otpgw does not support {', '.join(given)}", given[0])


def _ignored() -> fields.String:
    return fields.String(validate=validate.Length(max=2048), metadata={"description": "accepted and ignored"})


def _refused() -> fields.String:
    return fields.String(metadata={"description": "not supported: answered 400 (60200)"})


class _Form(Schema):
    class Meta:
        unknown = RAISE


class CreateForm(_Form):
    To = fields.String(required=True, validate=validate.Length(min=3, max=32),
                       metadata={"description": "the phone number, E.164"})
    Channel = fields.String(required=True, metadata={"description": "only `sms`"})
    Locale = fields.String(validate=LOCALE)
    AppHash = fields.String(validate=APP_HASH, metadata={"description": "Android SMS Retriever app hash"})
    DeviceIp = fields.String(validate=validate.Length(max=64), metadata={"description": "counted as client_ip"})
    CustomFriendlyName, Tags, RiskCheck = _ignored(), _ignored(), _ignored()
    EnableSnaClientToken, RateLimits = _ignored(), _ignored()
    CustomCode, CustomMessage, Amount, Payee, TemplateSid = _refused(), _refused(), _refused(), _refused(), _refused()
    Templates, TemplateCustomSubstitutions, ChannelConfiguration = _refused(), _refused(), _refused()
    SendDigits = _refused()

    @validates_schema
    def _supported(self, data: dict, **_: object) -> None:
        _refuse_unsupported(data)


class CheckForm(_Form):
    Code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    To = fields.String(validate=validate.Length(min=3, max=32))
    VerificationSid = fields.String(validate=validate.Length(max=64))
    Amount, Payee = _refused(), _refused()

    @validates_schema
    def _target(self, data: dict, **_: object) -> None:
        _refuse_unsupported(data)
        if not data.get("To") and not data.get("VerificationSid"):
            raise ValidationError("Either a 'To' number or 'VerificationSid' must be specified", "To")


class UpdateForm(_Form):
    Status = fields.String(required=True, validate=validate.OneOf(["canceled", "approved"]))


class AttemptSchema(Schema):
    attempt_sid = fields.String()
    channel = fields.String()
    time = fields.String()


class VerificationSchema(Schema):
    """A Twilio Verification resource (``VE…`` SID: the otpgw code id's 20 bytes in hex)."""

    sid = fields.String(required=True)
    service_sid = fields.String(required=True)
    account_sid = fields.String(required=True)
    to = fields.String(allow_none=True, metadata={"description": "null when otpgw cannot know it (it never "
                                                                 "stores numbers in clear)"})
    channel = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(list(STATUSES.values())))
    valid = fields.Boolean(required=True)
    lookup = fields.Dict()
    amount = fields.String(allow_none=True)
    payee = fields.String(allow_none=True)
    send_code_attempts = fields.List(fields.Nested(AttemptSchema))
    date_created = fields.String(required=True)
    date_updated = fields.String(required=True)
    sna = fields.Dict(allow_none=True)
    url = fields.String(required=True)


class VerificationCheckSchema(Schema):
    sid = fields.String(required=True)
    service_sid = fields.String(required=True)
    account_sid = fields.String(required=True)
    to = fields.String(allow_none=True)
    channel = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(list(STATUSES.values())))
    valid = fields.Boolean(required=True)
    amount = fields.String(allow_none=True)
    payee = fields.String(allow_none=True)
    date_created = fields.String(required=True)
    date_updated = fields.String(required=True)
    sna_attempts_error_codes = fields.List(fields.Dict())


class EnvelopeDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class TwilioErrorSchema(Schema):
    """Twilio's error body (what its SDKs read), with otpgw's envelope beside it."""

    code = fields.Integer(required=True, metadata={"description": "Twilio's error code: 20003, 20404, 60200, ..."})
    message = fields.String(required=True)
    more_info = fields.String(required=True)
    status = fields.Integer(required=True)
    error = fields.Nested(EnvelopeDetailSchema, required=True)
