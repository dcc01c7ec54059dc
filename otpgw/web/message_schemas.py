"""marshmallow schemas of /messages, /batches and /inbound: the wire format of the gateway.

``to`` is one number or a list; it is checked here only for its shape (strings) in one
tight loop, because a field object per item would cost a second per 100,000 numbers;
each number is then normalised and admitted by the service, which lists the refused
ones in its answer.
"""
from __future__ import annotations

import datetime as dt
import re

from marshmallow import Schema, ValidationError, fields, post_dump, post_load, validate

from ..otp.messages import SubmitRequest
from .schemas import EnumValue, Response, Timestamp, iso

MESSAGE_ID = validate.Regexp(r"[a-z2-7]{20}-(0|[1-9][0-9]{0,6})\Z", error="not a message id")
BATCH_ID = validate.Regexp(r"[a-z2-7]{20}\Z", error="not a batch id")
INBOUND_ID = validate.Regexp(r"[0-9]{1,20}-[0-9]{1,20}\Z", error="not an inbound message id")
# GSM 03.40: up to 11 letters and digits with at least one letter, or a number
_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 .&_-]{1,11}|\+?[0-9]{3,15}")


def _sender(value: str) -> None:
    if not _SENDER.fullmatch(value):
        raise ValidationError("up to 11 letters and digits with at least one letter, or a number")


class Recipients(fields.Field):
    """One phone number, or a list of them."""

    def _deserialize(self, value, attr, data, **kwargs):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValidationError("give a phone number or a non-empty list of phone numbers")
        for position, item in enumerate(items):
            if not isinstance(item, str):
                raise ValidationError(f"item {position} is not a string")
        return tuple(items)


class SubmitRequestSchema(Schema):
    to = Recipients(required=True, metadata={
        "description": "E.164 numbers (national ones with OTPGW_DEFAULT_REGION); duplicates are sent once",
        "oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]})
    text = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    send_at = fields.AwareDateTime(format="iso", metadata={
        "description": "RFC 3339 with an offset; up to OTPGW_MESSAGES_MAX_SEND_AHEAD (30 days) ahead"})
    sender = fields.String(validate=_sender, metadata={
        "description": "the SMS sender id (up to 11 letters and digits with a letter, or a number); else the client's"})
    reference = fields.String(validate=validate.Length(min=1, max=128),
                              metadata={"description": "your own label, returned with the batch and its messages"})

    @post_load
    def _make(self, data: dict, **_: object) -> SubmitRequest:
        send_at: dt.datetime | None = data.get("send_at")
        return SubmitRequest(to=data["to"], text=data["text"],
                             send_at_ms=int(send_at.timestamp() * 1000) if send_at else None,
                             sender=data.get("sender"), reference=data.get("reference"))


class BatchQuerySchema(Schema):
    cursor = fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000),
                            metadata={"description": "position of the first message listed"})
    limit = fields.Integer(load_default=100, validate=validate.Range(0, 1000),
                           metadata={"description": "messages listed (0: counts only)"})


class InboundQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    before = fields.String(validate=INBOUND_ID, metadata={"description": "list those older than this id"})


class RefusedSchema(Schema):
    to = fields.String()
    code = fields.String(metadata={"description": "invalid_phone, country_not_allowed, no_route"})
    reason = fields.String()


class SubmitResponseSchema(Response):
    batch_id = fields.String()
    status = EnumValue(metadata={"enum": ["scheduled", "sending"]})
    created_at = Timestamp(attribute="created_ms")
    send_at = Timestamp(attribute="send_at_ms")
    valid_until = Timestamp(attribute="valid_until_ms")
    segments = fields.Integer()
    encoding = fields.String()
    accepted = fields.Function(lambda r: len(r.messages))
    # dumped in one comprehension: a nested schema per item costs seconds for 100,000 of them
    messages = fields.Function(lambda r: [{"to": to, "id": ref} for to, ref in r.messages], metadata={
        "type": "array", "description": "one message per accepted number, in request order",
        "items": {"type": "object", "properties": {"to": {"type": "string"}, "id": {"type": "string"}}}})
    invalid = fields.List(fields.Nested(RefusedSchema))
    duplicates = fields.List(fields.String())
    opted_out = fields.List(fields.String())


STATUSES = ["scheduled", "queued", "sent", "delivered", "undelivered", "failed", "canceled"]


class MessageResponseSchema(Schema):
    """A message of a batch; the optional fields appear once they say something."""

    OPTIONAL = ("updated_at", "transport", "carrier_ids", "error_code", "detail", "reference")
    id = fields.String(attribute="message_id")
    batch_id = fields.String()
    status = EnumValue(metadata={"enum": STATUSES})
    created_at = Timestamp(attribute="created_ms")
    send_at = Timestamp(attribute="send_at_ms")
    valid_until = Timestamp(attribute="valid_until_ms")
    segments = fields.Integer()
    encoding = fields.String()
    updated_at = fields.Function(lambda m: iso(m.updated_ms) if m.updated_ms else None)
    transport = fields.String()
    carrier_ids = fields.List(fields.String())
    error_code = fields.String()
    detail = fields.String()
    reference = fields.String()

    @post_dump
    def _drop_empty(self, data: dict, **_: object) -> dict:
        return {k: v for k, v in data.items() if k not in self.OPTIONAL or v}


class BatchMessageSchema(MessageResponseSchema):
    class Meta:
        exclude = ("batch_id", "created_at", "send_at", "valid_until", "segments", "encoding", "reference")


class CountsSchema(Schema):
    scheduled = fields.Integer()
    queued = fields.Integer()
    sent = fields.Integer()
    delivered = fields.Integer()
    undelivered = fields.Integer()
    failed = fields.Integer()
    canceled = fields.Integer()


class BatchResponseSchema(Response):
    id = fields.String(attribute="batch_id")
    status = EnumValue(metadata={"enum": ["scheduled", "sending", "completed", "canceled"]})
    created_at = Timestamp(attribute="created_ms")
    send_at = Timestamp(attribute="send_at_ms")
    valid_until = Timestamp(attribute="valid_until_ms")
    completed_at = fields.Function(lambda b: iso(b.completed_ms) if b.completed_ms else None)
    canceled_at = fields.Function(lambda b: iso(b.canceled_ms) if b.canceled_ms else None)
    total = fields.Integer()
    segments = fields.Integer()
    encoding = fields.String()
    text = fields.String()
    sender = fields.Function(lambda b: b.sender or None)
    reference = fields.Function(lambda b: b.reference or None)
    counts = fields.Function(lambda b: {status.value: n for status, n in b.counts.items()}, metadata={
        "type": "object", "properties": {name: {"type": "integer"} for name in STATUSES}})
    messages = fields.List(fields.Nested(BatchMessageSchema))
    next_cursor = fields.Integer(metadata={"description": "the cursor of the next page, absent on the last"})



class InboundItemSchema(Schema):
    id = fields.String(attribute="inbound_id")
    sender = fields.String(data_key="from")
    to = fields.Function(lambda m: m.recipient or None, metadata={"type": "string", "nullable": True})
    text = fields.String()
    transport = fields.String()
    received_at = Timestamp(attribute="received_ms")
    keyword = fields.Function(lambda m: m.keyword if m.keyword not in ("", "none") else None,
                              metadata={"type": "string", "nullable": True, "enum": ["stop", "start", None]})


class InboundResponseSchema(Response):
    messages = fields.List(fields.Nested(InboundItemSchema))
    next_before = fields.String()
