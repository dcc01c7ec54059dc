"""One delivery attempt: open the message, route it, pick a transport, send, decide what next.

Choosing the transport: the route's transports from the message's ``step`` on (a pinned
one only, after an answer that never came). A transport another worker owns (a modem)
gets the message handed over on its lane. Each candidate's gate (``store.gates``) says
whether it may send now: paused by a carrier, breaker open, or no token of its rate
yet; an unavailable transport is skipped without spending an attempt, and when none is
available the message waits for the first to come back.

The decision after a failed attempt, in order:

1. a permanent error (unknown number, rejected content): ``failed``, never retried;
2. the attempt budget (``worker_max_retries`` retries) is spent: ``failed``;
3. no answer came (``OutcomeUnknownError``): retry on the *same* transport after the
   back-off, so a carrier that de-duplicates by our reference does not deliver twice;
4. another transport of the route is left: fail over to it at once (a temporary error,
   a throttling reply, or a transport that refuses the message, such as a carrier
   rejecting our credentials);
5. a temporary error with no transport left: start the route again after the back-off
   (``backoff.backoff_ms``; after a throttling reply, the pause the carrier asked for);
   a refusal with none left: ``failed``.

A retry whose time would come after the code's deadline fails instead: an expired code
is never delivered. The message moves only by scripts that also record what happened
on the code's record, so every outcome is visible on ``GET /otp/<id>``.

A message of a batch (``/messages``) goes the same way, with three differences that keep
codes first: its gate leaves a reserve of tokens to codes; a busy gate never makes it
sleep in a sending slot: it waits for the turn the gate gave it outside every slot, in
the worker's waiting room when the turn is less than a second away (``defer``), else in
the bulk lane's retry set, so slots stay free for codes and for messages to other
transports; and its deadline is its validity, not a code's life.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Mapping

from ..config.tables import Capacity
from ..domain.codes import tag_of
from ..domain.messages import parse_message_id
from ..domain.outcomes import DeliveryStatus, MessageStatus
from ..domain.phones import Phone, parse_phone, redact
from ..domain.sealing import Sealer, SealError, SealKeyUnknown
from ..domain.signing import CallbackTokens
from ..domain.sms import Message, QueuedMessage, Receipt
from ..errors import InvalidPhone
from ..events import metrics
from ..store import Store
from ..transports import OutcomeUnknownError, TemporaryTransportError, ThrottledError, Transport, TransportError
from .backoff import backoff_ms, pause_ms
from .bulk import BatchTexts
from .lanes import host_lane
from .router import NoRouteError, Plan, Router

log = logging.getLogger("otpgw.delivery")
DETAIL_MAX = 200  # a carrier's error text is shown on GET /otp/<id>; keep it short
KEY_WAIT_MS = 1000  # how long a message sealed under an unknown key waits before the next look
SHORT_WAIT_MS = 250  # a token this close is waited for in place; a longer wait requeues
LOCAL_WAIT_MS = 1000  # a bulk turn this close is waited for by the worker (in no slot), not in Redis
OTHER_WORKER_WAIT_MS = 1000  # a message for a transport this worker lacks waits this long for one that has it


def _phone(payload: dict) -> Phone:
    """The message's phone as the API classified it (sealed with the message, so the
    worker need not parse the number again: that costs more CPU than the whole send)."""
    if "cc" in payload and "nt" in payload:
        return Phone(payload["to"], payload["cc"], payload["nt"] == "fixed_line", payload["nt"])
    return parse_phone(payload["to"])


class Dispatcher:
    def __init__(self, *, store: Store, transports: Mapping[str, Transport], capacities: Mapping[str, Capacity],
                 router: Router, sealer: Sealer, tokens: CallbackTokens, host_bound: frozenset[str],
                 public_url: str, max_retries: int, retry_base: float, clock: Callable[[], int]):
        self.store = store
        self.transports = transports
        self.capacities = capacities
        self.router = router
        self.sealer = sealer
        self.tokens = tokens
        self.host_bound = host_bound  # every configured host-bound transport, owned here or not
        self.public_url = public_url
        self.max_retries = max_retries
        self.retry_base = retry_base
        self.now_ms = clock
        self.texts = BatchTexts(store.messages, sealer)
        # the worker's waiting room for bulk messages whose turn is near (see ``_wait``)
        self.defer: Callable[[QueuedMessage, int], bool] = lambda message, due: False

    def handle(self, queued: QueuedMessage) -> str:
        """Attempt one message; returns 'sent', 'failed', 'canceled', 'retry', 'waiting', 'deferred'
        (a bulk message kept by the worker for its turn) or 'moved'."""
        if self.now_ms() >= queued.deadline_ms:
            return self._finish(queued, DeliveryStatus.FAILED, detail="expired before delivery")
        try:
            payload = self.texts.payload(queued.reference, queued.sealed) if queued.is_message \
                else self.sealer.open(queued.sealed)
        except SealKeyUnknown as exc:  # a newer process sealed it: a worker that has the key will
            log.warning("message %s: %s; left for another worker", queued.reference, exc)
            return self._move(queued, "", self.now_ms() + KEY_WAIT_MS, lane=queued.lane)
        except SealError:
            return self._finish(queued, DeliveryStatus.FAILED, detail="message cannot be opened: it was changed")
        if payload is None:
            return self._finish(queued, DeliveryStatus.FAILED, detail="its batch is gone")
        try:
            plan = self.router.plan(_phone(payload), payload["text"])
        except (NoRouteError, InvalidPhone) as exc:
            return self._finish(queued, DeliveryStatus.FAILED, detail=str(exc))
        return self._dispatch(queued, plan, payload)

    def _candidates(self, queued: QueuedMessage, plan: Plan) -> list[tuple[int, str]]:
        """The transports to consider, in order: the pinned one alone, else the route from ``step``."""
        if queued.pin:
            return [(queued.step, queued.pin)]
        count = len(plan.transports)
        start = min(queued.step, count - 1)
        return [((start + i) % count, plan.transports[(start + i) % count]) for i in range(count)]

    def _dispatch(self, queued: QueuedMessage, plan: Plan, payload: dict) -> str:
        waits: list[int] = []
        for step, name in self._candidates(queued, plan):
            if name in self.host_bound and name not in self.transports:  # its device's worker sends it
                return self._move(queued, name, self.now_ms(), step=step, pin=queued.pin)
            if name not in self.transports:  # a transport this worker was not given: another may have it
                waits.append(OTHER_WORKER_WAIT_MS)
                continue
            verdict = self._gate(queued, name)
            if verdict.verdict == "skip":
                if queued.is_message:
                    return self._unsendable(queued, verdict.code_status)
                return self._dead_code(queued, verdict.code_status)
            if verdict.verdict == "go":
                return self._attempt(queued, plan, step, self.transports[name], payload, verdict.dirty)
            metrics.GATE_SKIPS.labels(transport=name, reason=verdict.verdict).inc()
            waits.append(verdict.wait_ms)
        return self._wait(queued, plan, min(waits))

    def _gate(self, queued: QueuedMessage, name: str):
        """The gate's verdict, waiting in place for a token that is only a moment away."""
        capacity = self.capacities.get(name, Capacity())
        if queued.is_message:  # never sleeps in a slot: a busy gate gives it a later turn
            batch_id, index = parse_message_id(queued.reference) or ("", 0)
            return self.store.gates.begin_message(name, capacity, batch_id, index, queued.tag, self.now_ms(),
                                                  turn=queued.turn)
        for _ in range(3):
            verdict = self.store.gates.begin(name, capacity, tag_of(queued.reference), queued.reference,
                                             self.now_ms())
            if verdict.verdict != "busy" or verdict.wait_ms > SHORT_WAIT_MS:
                return verdict
            time.sleep(verdict.wait_ms / 1000)
        return verdict

    def _dead_code(self, queued: QueuedMessage, code_status: str) -> str:
        if code_status == "approved":  # an earlier attempt went out, then its worker died
            return self._finish(queued, DeliveryStatus.SENT, detail="code approved before this attempt")
        detail = "code gone before delivery" if code_status == "gone" else f"code {code_status} before delivery"
        return self._finish(queued, DeliveryStatus.FAILED, detail=detail)

    def _unsendable(self, queued: QueuedMessage, status: str) -> str:
        """A message of a batch that must not go (now): its batch was canceled, its recipient
        opted out, or an earlier attempt sent it before its worker died."""
        if status == "canceled":
            return self._finish(queued, MessageStatus.CANCELED, detail="its batch was canceled")
        if status in ("opted_out", "gone"):
            detail = "the recipient opted out" if status == "opted_out" else "its batch is gone"
            return self._finish(queued, DeliveryStatus.FAILED, detail=detail)
        return self._finish(queued, DeliveryStatus.SENT, detail="sent by an earlier attempt")

    def _wait(self, queued: QueuedMessage, plan: Plan, wait_ms: int) -> str:
        """No transport of the route may send now: wait for the first to come back."""
        due = self.now_ms() + max(wait_ms, 20)
        if due >= queued.deadline_ms:
            what = "its validity ended" if queued.is_message else "the code expired"
            return self._finish(queued, DeliveryStatus.FAILED,
                                detail=f"no transport of its route was available before {what}")
        target = queued.pin or plan.transports[min(queued.step, len(plan.transports) - 1)]
        if not queued.is_message:
            self._move(queued, target, due, step=queued.step, pin=queued.pin)
            return "waiting"
        later = dataclasses.replace(queued, turn=due)  # the gate promised it the token due then
        if due - self.now_ms() <= LOCAL_WAIT_MS and target in self.transports and self.defer(later, due):
            return "deferred"
        self._move(queued, target, due, step=queued.step, pin=queued.pin, turn=due)
        return "waiting"

    def _attempt(self, queued: QueuedMessage, plan: Plan, step: int, transport: Transport, payload: dict,
                 dirty: bool) -> str:
        message = Message(payload["to"], payload["text"], queued.reference, queued.deadline_ms,
                          sender=payload.get("from", ""), callback_url=self._callback_url(transport.name),
                          callback_token=self.tokens.sign(transport.name, queued.reference))
        started = time.perf_counter()
        try:
            receipt = transport.send(message)
        except TransportError as exc:
            self._report_failure(transport.name, exc)
            return self._failed_attempt(queued, plan, step, transport.name, exc)
        except Exception as exc:  # a transport bug must not kill the worker or lose the message
            log.exception("transport %s raised %s", transport.name, type(exc).__name__)
            error = TemporaryTransportError(f"unexpected {type(exc).__name__}")
            self._report_failure(transport.name, error)
            return self._failed_attempt(queued, plan, step, transport.name, error)
        finally:
            metrics.SEND_SECONDS.labels(transport=transport.name).observe(time.perf_counter() - started)
        if dirty:
            self._set_breaker(transport.name, self.store.gates.outcome(
                transport.name, self.capacities.get(transport.name, Capacity()), "ok", self.now_ms()))
        return self._finish(queued, DeliveryStatus.SENT, transport=transport.name, receipt=receipt)

    def _report_failure(self, name: str, exc: TransportError) -> None:
        """Tell the gate: a throttling reply pauses the transport; a carrier-side failure
        counts toward its breaker; a number-side refusal says nothing about the carrier."""
        capacity = self.capacities.get(name, Capacity())
        if isinstance(exc, ThrottledError):
            metrics.count_transport(metrics.THROTTLED, name)
            wait = int(exc.retry_after * 1000) if exc.retry_after else 0
            self.store.gates.outcome(name, capacity, "pause", self.now_ms(), pause_ms=wait)
        elif exc.failover:
            self._set_breaker(name, self.store.gates.outcome(name, capacity, "fail", self.now_ms()))

    @staticmethod
    def _set_breaker(name: str, state: str) -> None:
        metrics.BREAKER.labels(transport=name).set(1 if state == "open" else 0)

    def _callback_url(self, transport: str) -> str:
        return f"{self.public_url}/callbacks/{transport}" if self.public_url else ""

    def _failed_attempt(self, queued: QueuedMessage, plan: Plan, step: int, name: str, exc: TransportError) -> str:
        attempt = queued.attempt + 1
        detail = f"attempt {attempt} via {name}: {redact(str(exc))}"[:DETAIL_MAX]
        metrics.FAILED_ATTEMPTS.labels(transport=name, reason=exc.code or type(exc).__name__).inc()
        has_next = step + 1 < len(plan.transports) and not queued.pin
        if attempt > self.max_retries or not (exc.retryable or (exc.failover and has_next)):
            return self._finish(queued, DeliveryStatus.FAILED, transport=name, detail=detail, error_code=exc.code)
        next_step, pin, due = self._next_try(queued, step, name, exc, attempt, has_next)
        if due >= queued.deadline_ms:
            return self._finish(queued, DeliveryStatus.FAILED, transport=name, error_code=exc.code,
                                detail=(detail + "; no time left before the code expires")[:DETAIL_MAX])
        target = pin or plan.transports[next_step]
        self._move(queued, target, due, detail=detail, tried=name, attempt=attempt, step=next_step, pin=pin)
        metrics.count_transport(metrics.RETRIES, name)
        log.info("message %s retries via %s at +%d ms: %s", queued.reference, target, due - self.now_ms(), detail)
        return "retry"

    def _next_try(self, queued: QueuedMessage, step: int, name: str, exc: TransportError, attempt: int,
                  has_next: bool) -> tuple[int, str, int]:
        """(step, pin, due ms) of the next attempt, by rules 3-5 of the module docstring."""
        now = self.now_ms()
        if isinstance(exc, OutcomeUnknownError):
            return step, name, now + backoff_ms(attempt, self.retry_base)
        if exc.failover and has_next:
            metrics.count_transport(metrics.FAILOVERS, name)
            return step + 1, "", now
        if isinstance(exc, ThrottledError):
            return 0, "", now + pause_ms(exc.retry_after, attempt, self.retry_base)
        return 0, "", now + backoff_ms(attempt, self.retry_base)

    def _move(self, queued: QueuedMessage, target: str, due_ms: int, *, detail: str = "", tried: str = "",
              lane: str = "", **changes: object) -> str:
        """Move the message to the lane that serves ``target`` (a device's own lane, or
        back to its shared lane), due at ``due_ms``."""
        lane = lane or (host_lane(target) if target in self.host_bound else queued.home)
        self.store.queue.move(queued, lane, due_ms, self.now_ms(), detail=detail, transport=tried, **changes)
        return "moved"

    def _finish(self, queued: QueuedMessage, status: DeliveryStatus | MessageStatus, *, transport: str = "",
                receipt: Receipt | None = None, detail: str = "", error_code: str = "") -> str:
        self.store.queue.finish(queued, status, self.now_ms(), transport=transport, receipt=receipt,
                                detail=detail, error_code=error_code)
        metrics.DELIVERIES.labels(transport=transport or "none", status=status.value).inc()
        log.info("message %s %s%s%s", queued.reference, status.value, f" via {transport}" if transport else "",
                 f" ({detail})" if detail else "")
        return status.value
