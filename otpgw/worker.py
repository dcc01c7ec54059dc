"""The delivery worker: take queued messages off a transport's stream and send them.

Delivery is at-least-once. A message is acknowledged only in the same script that
records its outcome, so a worker that dies mid-send leaves it pending and another
worker claims it after ``worker_claim_idle`` seconds. Retries of passing failures
wait ``worker_retry_base * 2**(attempt-1)`` seconds in a retry set, bounded by
``worker_max_retries`` and by the code's own deadline: an expired code is never sent.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from typing import Callable

from . import metrics
from .codes import tag_of
from .config import Settings
from .errors import StoreUnavailable
from .phones import redact
from .sealing import Sealer, SealError
from .store import QueuedMessage, RedisStore
from .transports import Message, Transport, TransportError

log = logging.getLogger(__name__)
BATCH = 10
DETAIL_MAX = 200  # a carrier's error text is shown on GET /otp/<id>; keep it short


class DeliveryWorker:
    def __init__(self, settings: Settings, store: RedisStore, transport: Transport, *,
                 clock: Callable[[], float] = time.time, consumer: str | None = None):
        self.settings = settings
        self.store = store
        self.transport = transport
        self.sealer = Sealer(settings.secret_keys)
        self.clock = clock
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._next_claim = 0.0

    @property
    def name(self) -> str:
        return self.transport.name

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; the message in hand is finished first."""
        log.info("worker %s consuming %s", self.consumer, self.name)
        while not stop.is_set():
            try:
                handled = self.run_once(stop, block_ms=self.settings.worker_block_ms)
            except StoreUnavailable:
                stop.wait(1.0)
                continue
            if not handled:
                stop.wait(0.05)  # an embedded store returns at once instead of blocking

    def run_once(self, stop: threading.Event | None = None, *, block_ms: int = 0) -> int:
        """One pass: promote due retries, claim orphans, read new messages, send them."""
        self.store.promote_due(self.name, self.now_ms())
        batch: list[QueuedMessage] = []
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + min(5.0, self.settings.worker_claim_idle / 2)
            batch = self.store.claim_stale(self.name, self.consumer, self.settings.worker_claim_idle * 1000, BATCH)
        if not batch:
            batch = self.store.read_messages(self.name, self.consumer, BATCH, block_ms)
        for done, message in enumerate(batch):
            if stop is not None and stop.is_set():
                log.info("stopping: %d message(s) left pending for another worker", len(batch) - done)
                return done
            self.handle(message)
        return len(batch)

    def handle(self, queued: QueuedMessage) -> str:
        """Send one message; returns the delivery status or 'retry'."""
        now = self.now_ms()
        if now >= queued.deadline_ms:
            return self._finish(queued, "failed", detail="expired before delivery")
        record = self.store.record(tag_of(queued.code_id), queued.code_id)
        code_status = record["status"] if record else "gone"
        if code_status == "approved":  # an earlier attempt was delivered, then its worker died
            return self._finish(queued, "sent", detail="code approved before this attempt")
        if code_status != "pending":
            return self._finish(queued, "failed", detail=f"code {code_status} before delivery")
        try:
            payload = self.sealer.open(queued.sealed)
        except SealError:
            return self._finish(queued, "failed", detail="message cannot be opened with the configured keys")
        message = Message(payload["to"], payload["text"], queued.code_id, queued.deadline_ms)
        try:
            carrier_ids = self.transport.send(message)
        except TransportError as exc:
            return self._failed_attempt(queued, exc)
        except Exception as exc:  # a transport bug must not kill the worker or lose the message
            log.exception("transport %s raised %s", self.name, type(exc).__name__)
            return self._failed_attempt(queued, TransportError(f"unexpected {type(exc).__name__}"))
        return self._finish(queued, "sent", carrier_ids=tuple(carrier_ids))

    def _failed_attempt(self, queued: QueuedMessage, exc: TransportError) -> str:
        detail = f"attempt {queued.attempt + 1}: {redact(str(exc))[:DETAIL_MAX]}"
        if not exc.retryable or queued.attempt >= self.settings.worker_max_retries:
            return self._finish(queued, "failed", detail=detail)
        due = self.now_ms() + int(self.settings.worker_retry_base * 1000 * 2 ** queued.attempt)
        if due >= queued.deadline_ms:
            return self._finish(queued, "failed", detail=detail + "; no time left before the code expires")
        self.store.retry_later(self.name, queued, due, self.now_ms(), detail)
        metrics.DELIVERIES.labels(transport=self.name, status="retry").inc()
        log.info("message %s retries at +%d ms: %s", queued.code_id, due - self.now_ms(), exc)
        return "retry"

    def _finish(self, queued: QueuedMessage, status: str, *, carrier_ids: tuple[str, ...] = (),
                detail: str = "") -> str:
        self.store.finish(self.name, queued, status, self.now_ms(), carrier_ids=carrier_ids, detail=detail)
        metrics.DELIVERIES.labels(transport=self.name, status=status).inc()
        log.info("message %s %s via %s%s", queued.code_id, status, self.name, f" ({detail})" if detail else "")
        return status
