"""Messages of ``/messages`` and their batches: ids, and the values the store takes and returns.

A batch id is 20 base32 characters (100 random bits). A message id is its batch's id, a
dash and the message's position in the batch (``k3…q-42``), so a delivery report about a
message finds its batch's keys without a lookup, and a code id (32 characters, no dash)
is never taken for one. Nothing here holds a phone number or a text in clear: recipients
are keyed tags and sealed payloads, the text is sealed once per batch.
"""
from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Mapping

from .outcomes import BatchStatus, MessageStatus

DAY_MS = 86400 * 1000
BATCH_ID = re.compile(r"[a-z2-7]{20}")
_MESSAGE_ID = re.compile(r"([a-z2-7]{20})-(0|[1-9][0-9]{0,6})")
# what a batch's record counts: every status a message reaches after it left the queue
COUNTED = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED,
           MessageStatus.CANCELED)


def new_batch_id() -> str:
    return base64.b32encode(secrets.token_bytes(15)).decode().rstrip("=").lower()[:20]


def message_id(batch_id: str, index: int) -> str:
    return f"{batch_id}-{index}"


def parse_message_id(value: str) -> tuple[str, int] | None:
    """(batch id, position) of a message id, or None if ``value`` is not one."""
    match = _MESSAGE_ID.fullmatch(value)
    return (match.group(1), int(match.group(2))) if match else None


def is_batch_id(value: str) -> bool:
    return bool(BATCH_ID.fullmatch(value))


@dataclass(frozen=True)
class NewBatch:
    """Everything the store writes for a batch. ``entries`` are the messages in order, each
    the recipient's 16-character keyed tag followed by its sealed number; ``opted_out``
    the request positions skipped for an opt-out (kept for an idempotent replay)."""

    batch_id: str
    client: str
    now_ms: int
    send_at_ms: int
    deadline_ms: int  # send_at + validity: the carrier validity, and when a waiting message fails
    sealed: str  # the text, sender and reference, sealed once for the whole batch
    segments: int
    encoding: str
    entries: tuple[str, ...] = field(repr=False)
    hook: bool = False
    day_cap: int = 0  # the client's recipients per UTC day (0: none)
    retention_ms: int = 0  # how long the records outlive the deadline
    idempotency_tag: str = ""
    request_digest: str = ""
    idempotency_ttl_ms: int = 0
    opted_out: tuple[int, ...] = ()

    @property
    def day(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.now_ms // 1000))

    @property
    def ms_to_day_end(self) -> int:
        return DAY_MS - self.now_ms % DAY_MS


@dataclass(frozen=True)
class BatchOutcome:
    """What writing a batch came to: ``refusal`` None when written (or ``replayed``: the
    first batch of this Idempotency-Key, with its opt-out positions)."""

    refusal: str | None = None  # rate_limited | idempotency_mismatch | in_progress
    retry_after_ms: int = 0
    limit: str = ""
    replayed: bool = False
    batch_id: str = ""
    opted_out: tuple[int, ...] = ()


@dataclass(frozen=True)
class MessageRecord:
    """A message's delivery as its batch keeps it; ``status`` None: it has not left yet."""

    status: MessageStatus | None = None
    updated_ms: int = 0
    transport: str = ""
    carrier_ids: tuple[str, ...] = ()
    error_code: str = ""
    detail: str = ""
    parts: int = 0

    @classmethod
    def from_raw(cls, raw: Mapping[str, object] | None) -> "MessageRecord":
        if not raw:
            return cls()
        return cls(MessageStatus(str(raw.get("delivery_status", "queued"))), int(raw.get("delivery_updated_at") or 0),
                   str(raw.get("transport", "")), tuple(filter(None, str(raw.get("carrier_ids", "")).split(","))),
                   str(raw.get("error_code", "")), str(raw.get("delivery_detail", "")), int(raw.get("parts") or 0))


@dataclass(frozen=True)
class BatchRecord:
    """A batch as stored: its settings, how many messages it has and where they are."""

    batch_id: str
    client: str
    state: str  # writing | scheduled | sending | completed | canceled
    created_ms: int
    send_at_ms: int
    deadline_ms: int
    total: int
    sealed: str
    segments: int
    encoding: str
    counts: Mapping[MessageStatus, int]  # of the statuses in COUNTED
    completed_ms: int = 0
    canceled_ms: int = 0

    def status_at(self, now_ms: int) -> BatchStatus:
        """A scheduled batch whose time has come is sending, though the scheduler may not
        have moved it yet."""
        if self.state == "canceled":
            return BatchStatus.CANCELED
        if self.state == "completed":
            return BatchStatus.COMPLETED
        if self.state == "scheduled" and now_ms < self.send_at_ms:
            return BatchStatus.SCHEDULED
        return BatchStatus.SENDING

    def waiting_status(self, now_ms: int) -> MessageStatus:
        """The status of a message that has not left: canceled with its batch, else
        scheduled before ``send_at``, else queued."""
        if self.state == "canceled":
            return MessageStatus.CANCELED
        return MessageStatus.SCHEDULED if now_ms < self.send_at_ms else MessageStatus.QUEUED

    def message_status(self, record: MessageRecord, now_ms: int) -> MessageStatus:
        return record.status if record.status not in (None, MessageStatus.QUEUED) else self.waiting_status(now_ms)

    def counts_at(self, now_ms: int) -> dict[MessageStatus, int]:
        """Messages by status; those that have not left count under ``waiting_status``."""
        counts = {status: 0 for status in MessageStatus}
        counts.update({status: self.counts.get(status, 0) for status in COUNTED})
        counts[self.waiting_status(now_ms)] += max(0, self.total - sum(self.counts.get(s, 0) for s in COUNTED))
        return counts


@dataclass(frozen=True)
class InboundRecord:
    """An inbound SMS kept for its client: the sender, recipient and text sealed."""

    inbound_id: str
    client: str
    sealed: str
    transport: str
    received_ms: int
    keyword: str = ""
