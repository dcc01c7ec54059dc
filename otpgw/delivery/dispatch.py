"""One delivery attempt: open the message, route it, pick a transport, send, decide what next.

The decision after a failed attempt, in order:

1. a permanent error (unknown number, rejected content): ``failed``, never retried;
2. the attempt budget (``worker_max_retries`` retries) is spent: ``failed``;
3. no answer came (``OutcomeUnknownError``): retry on the *same* transport after the
   back-off, so a carrier that de-duplicates by our reference does not deliver twice;
4. another transport of the route is left: fail over to it at once (a temporary error,
   or a transport that refuses the message, such as a carrier rejecting our credentials);
5. a temporary error with no transport left: start the route again after the back-off
   (``backoff.backoff_ms``); a refusal with none left: ``failed``.

A retry whose time would come after the code's deadline fails instead: an expired code
is never delivered. The message moves only by scripts that also record what happened
on the code's record, so every outcome is visible on ``GET /otp/<id>``.
"""
from __future__ import annotations

import logging
from typing import Callable, Mapping

from ..domain.codes import tag_of
from ..domain.outcomes import CodeStatus, DeliveryStatus
from ..domain.phones import parse_phone, redact
from ..domain.sealing import Sealer, SealError, SealKeyUnknown
from ..domain.signing import CallbackTokens
from ..domain.sms import Message, QueuedMessage, Receipt
from ..errors import InvalidPhone
from ..events import metrics
from ..store import Store
from ..transports import (
    OutcomeUnknownError,
    TemporaryTransportError,
    Transport,
    TransportError,
)
from .backoff import backoff_ms
from .lanes import host_lane
from .router import NoRouteError, Plan, Router

log = logging.getLogger("otpgw.delivery")
DETAIL_MAX = 200  # a carrier's error text is shown on GET /otp/<id>; keep it short
KEY_WAIT_MS = 1000  # how long a message sealed under an unknown key waits before the next look


class Dispatcher:
    def __init__(self, *, store: Store, transports: Mapping[str, Transport], router: Router, sealer: Sealer,
                 tokens: CallbackTokens, host_bound: frozenset[str], public_url: str, max_retries: int,
                 retry_base: float, clock: Callable[[], int]):
        self.store = store
        self.transports = transports
        self.router = router
        self.sealer = sealer
        self.tokens = tokens
        self.host_bound = host_bound  # every configured host-bound transport, owned here or not
        self.public_url = public_url
        self.max_retries = max_retries
        self.retry_base = retry_base
        self.now_ms = clock

    def handle(self, queued: QueuedMessage) -> str:
        """Attempt one message; returns 'sent', 'failed', 'retry' or 'moved'."""
        refusal = self._refusal(queued)
        if refusal is not None:
            status, detail = refusal
            return self._finish(queued, status, detail=detail)
        try:
            payload = self.sealer.open(queued.sealed)
        except SealKeyUnknown as exc:  # a newer process sealed it: a worker that has the key will
            log.warning("message %s: %s; left for another worker", queued.reference, exc)
            return self._move(queued, queued.pin or "", self.now_ms() + KEY_WAIT_MS, lane=queued.lane)
        except SealError:
            return self._finish(queued, DeliveryStatus.FAILED, detail="message cannot be opened: it was changed")
        try:
            plan = self.router.plan(parse_phone(payload["to"]), payload["text"])
        except (NoRouteError, InvalidPhone) as exc:
            return self._finish(queued, DeliveryStatus.FAILED, detail=str(exc))
        step, name = self._choose(queued, plan)
        if name not in self.transports:  # another worker owns it: hand the message over
            return self._move(queued, name, self.now_ms(), step=step, pin=queued.pin)
        return self._attempt(queued, plan, step, self.transports[name], payload)

    def _refusal(self, queued: QueuedMessage) -> tuple[DeliveryStatus, str] | None:
        """Why this message must not go out (a dead code), or None to go ahead."""
        if self.now_ms() >= queued.deadline_ms:
            return DeliveryStatus.FAILED, "expired before delivery"
        record = self.store.codes.record(tag_of(queued.reference), queued.reference)
        if record is None:
            return DeliveryStatus.FAILED, "code gone before delivery"
        if record.status is CodeStatus.APPROVED:  # an earlier attempt went out, then its worker died
            return DeliveryStatus.SENT, "code approved before this attempt"
        if record.status is not CodeStatus.PENDING:
            return DeliveryStatus.FAILED, f"code {record.status.value} before delivery"
        return None

    def _choose(self, queued: QueuedMessage, plan: Plan) -> tuple[int, str]:
        """The transport of this attempt: the pinned one, else the route's at ``step``."""
        if queued.pin:
            return queued.step, queued.pin
        step = min(queued.step, len(plan.transports) - 1)
        return step, plan.transports[step]

    def _attempt(self, queued: QueuedMessage, plan: Plan, step: int, transport: Transport, payload: dict) -> str:
        message = Message(payload["to"], payload["text"], queued.reference, queued.deadline_ms,
                          sender=payload.get("from", ""), callback_url=self._callback_url(transport.name),
                          callback_token=self.tokens.sign(transport.name, queued.reference))
        try:
            receipt = transport.send(message)
        except TransportError as exc:
            return self._failed_attempt(queued, plan, step, transport.name, exc)
        except Exception as exc:  # a transport bug must not kill the worker or lose the message
            log.exception("transport %s raised %s", transport.name, type(exc).__name__)
            error = TemporaryTransportError(f"unexpected {type(exc).__name__}")
            return self._failed_attempt(queued, plan, step, transport.name, error)
        return self._finish(queued, DeliveryStatus.SENT, transport=transport.name, receipt=receipt)

    def _callback_url(self, transport: str) -> str:
        return f"{self.public_url}/callbacks/{transport}" if self.public_url else ""

    def _failed_attempt(self, queued: QueuedMessage, plan: Plan, step: int, name: str, exc: TransportError) -> str:
        attempt = queued.attempt + 1
        detail = f"attempt {attempt} via {name}: {redact(str(exc))}"[:DETAIL_MAX]
        has_next = step + 1 < len(plan.transports) and not queued.pin
        if attempt > self.max_retries or not (exc.retryable or (exc.failover and has_next)):
            return self._finish(queued, DeliveryStatus.FAILED, transport=name, detail=detail, error_code=exc.code)
        now = self.now_ms()
        if isinstance(exc, OutcomeUnknownError):
            next_step, pin, due = step, name, now + backoff_ms(attempt, self.retry_base)
        elif exc.failover and has_next:
            next_step, pin, due = step + 1, "", now
            metrics.count_transport(metrics.FAILOVERS, name)
        else:
            next_step, pin, due = 0, "", now + backoff_ms(attempt, self.retry_base)
        if due >= queued.deadline_ms:
            return self._finish(queued, DeliveryStatus.FAILED, transport=name, error_code=exc.code,
                                detail=(detail + "; no time left before the code expires")[:DETAIL_MAX])
        target = pin or plan.transports[next_step]
        self._move(queued, target, due, detail=detail, tried=name, attempt=attempt, step=next_step, pin=pin)
        metrics.count_transport(metrics.RETRIES, name)
        log.info("message %s retries via %s at +%d ms: %s", queued.reference, target, due - now, detail)
        return "retry"

    def _move(self, queued: QueuedMessage, target: str, due_ms: int, *, detail: str = "", tried: str = "",
              lane: str = "", **changes: object) -> str:
        """Move the message to the lane that serves ``target`` (a device's own lane, or
        back to its shared lane), due at ``due_ms``."""
        lane = lane or (host_lane(target) if target in self.host_bound else queued.home)
        self.store.queue.move(queued, lane, due_ms, self.now_ms(), detail=detail, transport=tried, **changes)
        return "moved"

    def _finish(self, queued: QueuedMessage, status: DeliveryStatus, *, transport: str = "",
                receipt: Receipt | None = None, detail: str = "", error_code: str = "") -> str:
        self.store.queue.finish(queued, status, self.now_ms(), transport=transport, receipt=receipt,
                                detail=detail, error_code=error_code)
        metrics.DELIVERIES.labels(transport=transport or "none", status=status.value).inc()
        log.info("message %s %s%s%s", queued.reference, status.value, f" via {transport}" if transport else "",
                 f" ({detail})" if detail else "")
        return status.value
