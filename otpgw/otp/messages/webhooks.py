"""Webhook events of messages, batches and inbound SMS, posted by the one dispatcher.

The scripts append these events to the same outbox as codes' (``message.queued`` when a
scheduled message goes onto the lane, ``message.sent``, ``message.delivered``,
``message.undelivered``, ``message.failed``, ``batch.completed`` once per batch, and
``message.inbound``), so they are signed, retried and dropped by the same rules. The
outbox holds no number and no text: an inbound event names the kept message, and the
dispatcher opens it only to post it.

``GatewayWebhooks`` is the code dispatcher with its own body for these types; a code's
event is posted exactly as ``events.webhooks`` does.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from ...config import Settings
from ...domain.sealing import Sealer
from ...domain.webhooks import OutboxEvent
from ...events.webhooks import SIGNATURE_HEADER, WebhookDispatcher, sign
from ...store import Store
from ..clients import ClientRegistry

MESSAGE_EVENTS = ("message.queued", "message.sent", "message.delivered", "message.undelivered", "message.failed",
                  "message.inbound", "batch.completed")


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_data(event: OutboxEvent, inbound: dict | None = None) -> dict[str, Any]:
    """The ``data`` of a message, batch or inbound event."""
    if event.type == "batch.completed":
        return {"batch_id": event.code_id, "client": event.client, "status": event.status,
                "counts": json.loads(event.reason or "{}")}
    if event.type == "message.inbound":
        keyword = event.reason if event.reason not in ("", "none") else None
        return {"inbound_id": event.code_id, "client": event.client, "from": (inbound or {}).get("from"),
                "to": (inbound or {}).get("to") or None, "text": (inbound or {}).get("text"), "keyword": keyword}
    data = {"message_id": event.code_id, "batch_id": event.code_id.split("-", 1)[0], "client": event.client,
            "status": event.status}
    return {**data, "error_code": event.reason} if event.reason else data


class GatewayWebhooks(WebhookDispatcher):
    """``WebhookDispatcher`` that also posts the events of ``/messages``."""

    def __init__(self, outbox: Any, targets: Any, *, store: Store, sealer: Sealer, **options: Any):
        super().__init__(outbox, targets, **options)
        self.store = store
        self.sealer = sealer

    def deliver(self, event: OutboxEvent) -> str:
        if event.type not in MESSAGE_EVENTS:
            return super().deliver(event)
        target = self.targets(event.client)
        if target is None:
            return self._settle(event, "dropped", "its client has no webhook")
        inbound = None
        if event.type == "message.inbound":
            kept = self.store.inbound.get(event.client, event.code_id)
            if kept is None:
                return self._settle(event, "dropped", "the inbound message is no longer kept")
            inbound = self.sealer.open(kept.sealed)
        url, secret = target
        body = json.dumps({"id": event.entry_id, "type": event.type, "created_at": _iso(event.at_ms),
                           "data": event_data(event, inbound)}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "otpgw-webhooks",
                   "Otpgw-Event-Id": event.entry_id, "Otpgw-Event-Type": event.type,
                   SIGNATURE_HEADER: sign(secret, body, int(self.clock()))}
        status = self.sender(url, body, headers, self.timeout)
        if 200 <= status < 300:
            return self._settle(event, "delivered")
        return self._retry(event, status, urlsplit(url).netloc)


def gateway_webhooks(settings: Settings, store: Store, *, clock: Callable[[], float] = time.time,
                     sender: Callable[..., int] | None = None) -> GatewayWebhooks:
    """The worker's dispatcher: codes' events and those of messages, to the clients' webhooks."""
    registry = ClientRegistry(settings, store.clients)
    hooks = settings.webhooks
    extra = {"sender": sender} if sender else {}
    return GatewayWebhooks(store.outbox, registry.webhook_target, store=store,
                           sealer=Sealer(settings.secrets.keys, settings.secrets.known), timeout=hooks.timeout,
                           retry_base=hooks.retry_base, retry_max=hooks.retry_max, max_age=hooks.max_age,
                           clock=clock, **extra)
