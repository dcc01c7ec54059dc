"""Webhook events: what the outbox holds and what a client's endpoint receives.

An event names a code by id, the client it belongs to, a status and a reason, never a
phone number or a code. The types are the wire format of the ``type`` field and never
change once released.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

CODE_EVENTS = ("code.approved", "code.max_attempts", "code.locked")
DELIVERY_EVENTS = ("delivery.sent", "delivery.delivered", "delivery.undelivered", "delivery.failed")
TYPES = CODE_EVENTS + DELIVERY_EVENTS


@dataclass(frozen=True)
class OutboxEvent:
    """One outbox entry; ``attempt`` counts the deliveries that failed so far."""

    entry_id: str
    type: str
    code_id: str
    client: str
    status: str
    reason: str
    at_ms: int
    attempt: int = 0

    @classmethod
    def from_fields(cls, entry_id: str, fields: Mapping[str, str], attempt: int = 0) -> "OutboxEvent":
        return cls(entry_id=entry_id, type=fields.get("type", ""), code_id=fields.get("code", ""),
                   client=fields.get("client", ""), status=fields.get("status", ""),
                   reason=fields.get("reason", ""), at_ms=int(fields.get("at") or 0), attempt=attempt)
