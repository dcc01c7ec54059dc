"""What the messages service takes and returns: typed values, times in epoch ms.

The web schemas load requests into these and dump the results; the wire format lives
there. No value here carries a phone number the caller did not send us in this request.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ...domain.outcomes import BatchStatus, MessageStatus
from .recipients import Refused


@dataclass(frozen=True)
class SubmitRequest:
    to: tuple[str, ...]
    text: str
    send_at_ms: int | None = None
    sender: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    batch_id: str
    status: BatchStatus
    created_ms: int
    send_at_ms: int
    valid_until_ms: int
    segments: int
    encoding: str
    messages: tuple[tuple[str, str], ...]  # (number in E.164, message id), in request order
    invalid: tuple[Refused, ...] = ()
    duplicates: tuple[str, ...] = ()
    opted_out: tuple[str, ...] = ()
    replayed: bool = False


@dataclass(frozen=True)
class MessageView:
    message_id: str
    batch_id: str
    status: MessageStatus
    created_ms: int
    send_at_ms: int
    valid_until_ms: int
    segments: int
    encoding: str
    updated_ms: int = 0
    transport: str = ""
    carrier_ids: tuple[str, ...] = ()
    error_code: str = ""
    detail: str = ""
    reference: str = ""


@dataclass(frozen=True)
class BatchView:
    batch_id: str
    status: BatchStatus
    created_ms: int
    send_at_ms: int
    valid_until_ms: int
    total: int
    segments: int
    encoding: str
    text: str
    counts: Mapping[MessageStatus, int]
    messages: tuple[MessageView, ...] = ()
    next_cursor: int | None = None
    reference: str = ""
    sender: str = ""
    completed_ms: int = 0
    canceled_ms: int = 0


@dataclass(frozen=True)
class InboundView:
    inbound_id: str
    sender: str
    recipient: str
    text: str
    transport: str
    received_ms: int
    keyword: str = ""


@dataclass(frozen=True)
class InboundPage:
    messages: tuple[InboundView, ...]
    next_before: str | None = None
