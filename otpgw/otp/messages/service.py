"""MessageService: bulk and scheduled messages, their batches, inbound SMS. No Flask here.

A request's recipients are checked here (``recipients``), without Redis; then two round
trips: one that reads the recipients' opt-outs (so skipped numbers can be reported),
one pipelined write of the whole batch (``store.messages``). It is the one call of the
API that takes more than one round trip, because its size is not bounded by one script:
a batch is written in chunks so Redis keeps serving codes between them.

Only clients with ``messages_allowed`` may use it (an open bulk API is a tool for spam
and toll fraud); in dev mode the open default client may. A client sees its own
batches, messages and inbound SMS only; anything else is 404.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Callable, Sequence

from ...config import ClientConfig, Settings
from ...delivery.router import Router
from ...domain import codes
from ...domain.messages import (
    BatchOutcome,
    BatchRecord,
    MessageRecord,
    NewBatch,
    is_batch_id,
    message_id,
    new_batch_id,
    parse_message_id,
)
from ...domain.outcomes import BatchStatus
from ...domain.phones import Phone
from ...domain.sealing import Sealer
from ...domain.textcodec import encoding_for, segment_count
from ...errors import (
    Conflict,
    Forbidden,
    IdempotencyMismatch,
    InvalidPhone,
    InvalidRequest,
    NotFound,
    OptedOut,
    RateLimited,
)
from ...events.audit import audit
from ...store import Store
from ..clients import ClientRegistry
from ..policy import Policy
from .recipients import Admitted, PhoneTagger, RecipientList, cooperative
from .types import BatchView, InboundPage, InboundView, MessageView, SubmitRequest, SubmitResult

IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000
PAST_TOLERANCE_MS = 60_000  # a send_at this far in the past (clock skew) means now


class MessageService:
    def __init__(self, settings: Settings, store: Store, *, clients: ClientRegistry,
                 clock: Callable[[], float] = time.time):
        self.settings = settings
        self.config = settings.messages
        self.messages = store.messages
        self.inbox = store.inbound
        self.clients = clients
        self.clock = clock
        self.sealer = Sealer(settings.secrets.keys, settings.secrets.known)
        self.tag = PhoneTagger(settings.secrets.tagging_key)
        self.recipients = RecipientList(Policy(settings), Router(settings.routes), settings.numbers.default_region)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def allowed(self, client: str) -> ClientConfig:
        """The client's settings, if it may use the messages API; else 403."""
        profile = self.clients.get(client)
        if profile.messages_allowed or (self.settings.dev and client == self.clients.default.name):
            return profile
        raise Forbidden("this API client may not send messages (its messages_allowed setting is off)",
                        code="messages_not_allowed")

    # -- submit -----------------------------------------------------------------------
    def submit(self, request: SubmitRequest, client: str, *, idempotency_key: str | None = None) -> SubmitResult:
        profile = self.allowed(client)
        now = self.now_ms()
        segments = self._segments(request.text, client)
        send_at = self._send_at(request.send_at_ms, now)
        if len(request.to) > self.config.max_recipients:
            raise InvalidRequest(f"at most {self.config.max_recipients} recipients per request",
                                 details={"recipients": len(request.to), "max_recipients": self.config.max_recipients})
        admitted = self.recipients.admit(request.to, request.text, profile)
        if not admitted.phones:
            raise InvalidPhone("no recipient can receive messages",
                               details={"invalid": [asdict(r) for r in admitted.invalid]})
        tags = [self.tag(phone.e164) for phone in cooperative(admitted.phones)]
        opted = self.messages.opted_out(tags)
        keep = [i for i in range(len(tags)) if i not in opted]
        if not keep:
            raise OptedOut("every recipient has opted out", details={"opted_out": [p.e164 for p in admitted.phones]})
        batch = self._batch(request, profile, now, send_at, segments, admitted.phones, tags, keep, opted,
                            idempotency_key)
        outcome = self.messages.write(batch)
        _refuse(outcome)
        if outcome.replayed:
            return self._replay(outcome, admitted, client)
        audit("messages.submit", batch_id=outcome.batch_id, client=client, recipients=len(keep),
              invalid=len(admitted.invalid), opted_out=len(opted), scheduled=send_at > now)
        return _result(outcome.batch_id, BatchStatus.SCHEDULED if send_at > now else BatchStatus.SENDING, now,
                       send_at, batch.deadline_ms, segments, batch.encoding, admitted, keep)

    def _segments(self, text: str, client: str) -> int:
        segments, most = segment_count(text), self.config.segments_for(client)
        if segments > most:
            raise InvalidRequest(f"the text takes {segments} SMS segments; at most {most} are allowed",
                                 details={"segments": segments, "max_segments": most})
        return segments

    def _send_at(self, given: int | None, now: int) -> int:
        if given is None or now - PAST_TOLERANCE_MS <= given <= now:
            return now
        if given < now:
            raise InvalidRequest("send_at is in the past", details={"send_at": "in the past"})
        if given > now + self.config.max_send_ahead * 1000:
            raise InvalidRequest(f"send_at may be at most {self.config.max_send_ahead} seconds ahead",
                                 details={"max_send_ahead": self.config.max_send_ahead})
        return given

    def _batch(self, request: SubmitRequest, profile: ClientConfig, now: int, send_at: int, segments: int,
               phones: Sequence[Phone], tags: list[str], keep: list[int], opted: set[int],
               idempotency_key: str | None) -> NewBatch:
        """The batch as the store writes it: every recipient sealed, the text sealed once."""
        entries = tuple(tags[i] + self.sealer.seal({"to": phones[i].e164, "cc": phones[i].country,
                                                    "nt": phones[i].number_type}) for i in cooperative(keep))
        content = {"text": request.text, "from": request.sender or profile.sender_id, "ref": request.reference or ""}
        idempotency_tag, digest = self._idempotency(profile.name, idempotency_key, request)
        return NewBatch(
            batch_id=new_batch_id(), client=profile.name, now_ms=now, send_at_ms=send_at,
            deadline_ms=send_at + self.config.validity * 1000, sealed=self.sealer.seal(content), segments=segments,
            encoding=encoding_for(request.text).value, entries=entries, hook=bool(profile.webhook_url),
            day_cap=self.config.daily_recipients_for(profile.name), retention_ms=self.config.retention * 1000,
            idempotency_tag=idempotency_tag, request_digest=digest, idempotency_ttl_ms=IDEMPOTENCY_TTL_MS,
            opted_out=tuple(sorted(opted)))

    def _idempotency(self, client: str, key: str | None, request: SubmitRequest) -> tuple[str, str]:
        """Keyed tags of (client, Idempotency-Key) and of the request; ('', '') without a key."""
        if not key:
            return "", ""
        tag_key = self.settings.secrets.tagging_key.encode()
        body = json.dumps(asdict(request), sort_keys=True)
        return (codes.identity_tag(tag_key, "idempotency-batch", f"{client}\x00{key}"),
                codes.identity_tag(tag_key, "batch-request", body))

    def _replay(self, outcome: BatchOutcome, admitted: Admitted, client: str) -> SubmitResult:
        """The first answer again: the same request admits the same numbers in the same order."""
        record = self.messages.batch(outcome.batch_id)
        if record is None or record.client != client:
            raise NotFound("the batch first sent under this Idempotency-Key is gone")
        keep = [i for i in range(len(admitted.phones)) if i not in set(outcome.opted_out)]
        audit("messages.submit", batch_id=record.batch_id, client=client, outcome="replayed")
        return _result(record.batch_id, record.status_at(self.now_ms()), record.created_ms, record.send_at_ms,
                       record.deadline_ms, record.segments, record.encoding, admitted, keep, replayed=True)

    # -- reading ------------------------------------------------------------------------
    def message(self, message_ref: str, client: str) -> MessageView:
        self.allowed(client)
        ref = parse_message_id(message_ref)
        if ref is None:
            raise NotFound("no such message")
        batch, record = self.messages.message(*ref)
        if batch is None or batch.client != client or ref[1] >= batch.total:
            raise NotFound("no such message")
        return self._message(batch, ref[1], record, self._content(batch).get("ref", ""))

    def batch(self, batch_id: str, client: str, *, cursor: int = 0, limit: int = 100) -> BatchView:
        """The batch, its counts by status, and a page of its messages from position ``cursor``."""
        self.allowed(client)
        if not is_batch_id(batch_id):
            raise NotFound("no such batch")
        batch, records = self.messages.page(batch_id, cursor, limit)
        if batch is None or batch.client != client:
            raise NotFound("no such batch")
        end = min(batch.total, cursor + limit)
        content = self._content(batch)
        views = tuple(self._message(batch, i, records[i - cursor], content.get("ref", ""))
                      for i in range(cursor, end))
        now = self.now_ms()
        return BatchView(batch.batch_id, batch.status_at(now), batch.created_ms, batch.send_at_ms, batch.deadline_ms,
                         batch.total, batch.segments, batch.encoding, content["text"], batch.counts_at(now), views,
                         end if end < batch.total else None, content.get("ref", ""), content.get("from", ""),
                         batch.completed_ms, batch.canceled_ms)

    def cancel(self, batch_id: str, client: str) -> BatchView:
        self.allowed(client)
        if not is_batch_id(batch_id) or self.messages.cancel(batch_id, client, self.now_ms()) == "not_found":
            raise NotFound("no such batch")
        audit("messages.cancel", batch_id=batch_id, client=client)
        return self.batch(batch_id, client, limit=0)

    def _content(self, batch: BatchRecord) -> dict:
        return self.sealer.open(batch.sealed)

    def _message(self, batch: BatchRecord, index: int, record: MessageRecord, reference: str) -> MessageView:
        return MessageView(message_id(batch.batch_id, index), batch.batch_id,
                           batch.message_status(record, self.now_ms()), batch.created_ms, batch.send_at_ms,
                           batch.deadline_ms, batch.segments, batch.encoding, record.updated_ms, record.transport,
                           record.carrier_ids, record.error_code, record.detail, reference)

    # -- inbound ------------------------------------------------------------------------
    def inbound(self, client: str, *, limit: int = 50, before: str = "") -> InboundPage:
        """The client's inbound SMS, newest first; ``before`` pages back from an id."""
        self.allowed(client)
        records = self.inbox.recent(client, limit, before)
        views = []
        for record in records:
            opened = self.sealer.open(record.sealed)
            views.append(InboundView(record.inbound_id, opened["from"], opened.get("to", ""), opened["text"],
                                     record.transport, record.received_ms, record.keyword))
        return InboundPage(tuple(views), records[-1].inbound_id if len(records) == limit and records else None)


def _result(batch_id: str, status: BatchStatus, created: int, send_at: int, valid_until: int, segments: int,
            encoding: str, admitted: Admitted, keep: list[int], *, replayed: bool = False) -> SubmitResult:
    kept = set(keep)
    return SubmitResult(
        batch_id, status, created, send_at, valid_until, segments, encoding,
        tuple((admitted.phones[i].e164, message_id(batch_id, n)) for n, i in enumerate(keep)),
        admitted.invalid, admitted.duplicates,
        tuple(p.e164 for i, p in enumerate(admitted.phones) if i not in kept), replayed)


def _refuse(outcome: BatchOutcome) -> None:
    """Raise the error a refused batch answers with; return if it was written or replayed."""
    if outcome.refusal == "idempotency_mismatch":
        raise IdempotencyMismatch()
    if outcome.refusal == "in_progress":
        raise Conflict("a request with this Idempotency-Key is still being processed; retry in a moment",
                       code="idempotency_in_progress")
    if outcome.refusal == "rate_limited":
        raise RateLimited(f"too many message recipients today ({outcome.limit})",
                          retry_after_ms=outcome.retry_after_ms, details={"limit": outcome.limit})
