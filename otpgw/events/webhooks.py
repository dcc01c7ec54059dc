"""Webhooks out: signed POSTs of code and delivery events to each client's URL.

The scripts that change a code append an event to the outbox stream in the same step
(``_prelude.lua``: ``emit_event``), so the request path never waits on a webhook and an
event exists exactly when its change happened. ``WebhookDispatcher`` runs in the
delivery worker's process: it reads the outbox through a consumer group, POSTs each
event, and on failure retries with back-off ``retry_base * 2**(attempt-1)`` seconds (at
most ``retry_max``) until the event is ``max_age`` old, then drops it and says so.
Delivery is at least once; receivers de-duplicate by ``Otpgw-Event-Id``.

Signature: ``Otpgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
A receiver recomputes it over the raw body, compares in constant time and refuses a
timestamp older than a few minutes (``verify_signature``; ``otpgw.client`` has the same).
HTTP goes through the standard library's urllib (only ``transports.http`` may use httpx),
redirects are not followed, and the body holds no phone number and no code.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urlsplit

from prometheus_client import Counter

from ..domain.webhooks import OutboxEvent
from ..errors import OtpgwError

log = logging.getLogger("otpgw.webhooks")
SIGNATURE_HEADER = "Otpgw-Signature"
WEBHOOKS = Counter("otpgw_webhooks_total", "Webhook deliveries by outcome (delivered, retry, dropped).",
                   ["outcome"])
Targets = Callable[[str], "tuple[str, str] | None"]  # client name -> (url, secret), or None


class WebhookSignatureError(ValueError):
    """The signature header is missing, malformed, stale or wrong."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> None:
    """Raise WebhookSignatureError unless ``header`` signs ``body`` under ``secret``, recently."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        raise WebhookSignatureError("malformed signature header")
    timestamp = int(parts["t"])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise WebhookSignatureError("signature timestamp outside the tolerance")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts["v1"]):
        raise WebhookSignatureError("signature does not match")


def body_of(event: OutboxEvent) -> bytes:
    """The JSON a client receives: the event's id, type and time, and the code's facts."""
    created = dt.datetime.fromtimestamp(event.at_ms / 1000, tz=dt.timezone.utc)
    return json.dumps({
        "id": event.entry_id, "type": event.type,
        "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {"code_id": event.code_id, "client": event.client, "status": event.status, "reason": event.reason},
    }, separators=(",", ":")).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer like any other non-2xx: the event is retried


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the status; a network failure is status 0."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return 0


class WebhookDispatcher:
    """Deliver the outbox's events; ``run(stop)`` in a thread of the worker process.

    ``outbox`` is the store's ``WebhookOutbox`` and ``targets`` the client registry's
    ``webhook_target`` (both passed in: this layer imports neither). An event of a client
    without a webhook (any more) is dropped.
    """

    CLAIM_IDLE_MS = 60_000  # an event read but not settled this long ago: its dispatcher died
    BATCH = 16

    def __init__(self, outbox: Any, targets: Targets, *, timeout: float = 5.0, retry_base: float = 5.0,
                 retry_max: float = 3600.0, max_age: float = 86400.0, clock: Callable[[], float] = time.time,
                 consumer: str | None = None, sender: Callable[..., int] = post, concurrency: int = 8):
        self.outbox = outbox
        self.targets = targets
        self.timeout, self.retry_base, self.retry_max, self.max_age = timeout, retry_base, retry_max, max_age
        self.clock = clock
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.sender = sender
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="otpgw-webhook")
        self._next_claim = 0.0

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def run(self, stop: threading.Event, *, block_ms: int = 1000) -> None:
        """Deliver until ``stop`` is set; a store outage is waited out."""
        log.info("webhook dispatcher %s started", self.consumer)
        while not stop.is_set():
            try:
                handled = self.run_once(block_ms=block_ms)
            except OtpgwError:  # the store is away (logged where it happened): wait for it
                stop.wait(1.0)
                continue
            except Exception:  # a bug must not end webhooks for the life of the worker
                log.exception("webhook dispatcher failed; going on in a second")
                stop.wait(1.0)
                continue
            if not handled:
                stop.wait(0.05)  # the embedded store returns at once instead of blocking
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def run_once(self, *, block_ms: int = 0) -> int:
        """One pass: orphans, due retries, then new events (waiting up to ``block_ms``)."""
        events = self._orphans() + self.outbox.due(self.now_ms(), self._lease_ms(), self.BATCH)
        events += self.outbox.read(self.consumer, self.BATCH, 0 if events else block_ms)
        list(self._pool.map(self.deliver, events))
        return len(events)

    def _orphans(self) -> list[OutboxEvent]:
        if time.monotonic() < self._next_claim:
            return []
        self._next_claim = time.monotonic() + 5.0
        return self.outbox.claim_stale(self.consumer, self.CLAIM_IDLE_MS, self.BATCH)

    def _lease_ms(self) -> int:
        return int((self.timeout * 2 + 30) * 1000)

    def deliver(self, event: OutboxEvent) -> str:
        """Try ``event`` once; returns 'delivered', 'retry' or 'dropped'."""
        target = self.targets(event.client)
        if target is None:
            return self._settle(event, "dropped", "its client has no webhook")
        url, secret = target
        body = body_of(event)
        headers = {"Content-Type": "application/json", "User-Agent": "otpgw-webhooks",
                   "Otpgw-Event-Id": event.entry_id, "Otpgw-Event-Type": event.type,
                   SIGNATURE_HEADER: sign(secret, body, int(self.clock()))}
        status = self.sender(url, body, headers, self.timeout)
        if 200 <= status < 300:
            return self._settle(event, "delivered")
        return self._retry(event, status, urlsplit(url).netloc)

    def _retry(self, event: OutboxEvent, status: int, host: str) -> str:
        attempt = event.attempt + 1
        delay = min(self.retry_base * 2 ** (attempt - 1), self.retry_max)
        due_ms = self.now_ms() + int(delay * 1000)
        answer = f"answered {status}" if status else "did not answer"
        if due_ms > event.at_ms + self.max_age * 1000:
            return self._settle(event, "dropped", f"{host} {answer}; given up after {attempt} attempts")
        self.outbox.settle(event, due_ms=due_ms, attempt=attempt)
        WEBHOOKS.labels("retry").inc()
        log.info("webhook %s %s to %s %s; attempt %d again in %.1f s", event.entry_id, event.type, host, answer,
                 attempt + 1, delay)
        return "retry"

    def _settle(self, event: OutboxEvent, outcome: str, why: str = "") -> str:
        self.outbox.settle(event)
        WEBHOOKS.labels(outcome).inc()
        if why:
            log.warning("webhook %s %s for client %s dropped: %s", event.entry_id, event.type, event.client, why)
        return outcome
