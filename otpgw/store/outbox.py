"""WebhookOutbox: the stream the scripts append code and delivery events to, read by dispatchers.

New events are read through a consumer group, so several dispatchers share the work and
an event a dead dispatcher had read is claimed by another (``claim_stale``). An event
whose POST failed leaves the group and waits in a retry set until it is due (``due``
hands it out under a lease, so a crash mid-POST loses nothing); delivered or abandoned
events are deleted (``settle``). Delivery is at least once: receivers de-duplicate by
the event id.
"""
from __future__ import annotations

from typing import Any

import redis

from ..domain.webhooks import OutboxEvent
from .errors import guard
from .keys import KeySpace
from .scripts import Scripts

GROUP = "webhooks"


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _group_is_missing(exc: redis.exceptions.ResponseError) -> bool:
    from .queue import _group_is_missing as missing  # here: codes -> outbox -> queue -> codes would loop

    return missing(exc)


def outbox_key(keys: KeySpace) -> str:
    """The outbox stream (also declared by the scripts that emit: verify_code, delivery)."""
    return keys.key("webhooks", "outbox")


class WebhookOutbox:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts):
        self.client = client
        self.scripts = scripts
        self.stream = outbox_key(keys)
        self.keys = dict(outbox=self.stream, retries=keys.key("webhooks", "retry"),
                         attempts=keys.key("webhooks", "attempts"))

    @guard
    def read(self, consumer: str, count: int, block_ms: int = 0) -> list[OutboxEvent]:
        """New events for this dispatcher; blocks up to ``block_ms`` when there are none."""
        streams = {self.stream: ">"}
        try:
            reply = self.client.xreadgroup(GROUP, consumer, streams, count=count, block=block_ms or None)
        except redis.exceptions.ResponseError as exc:
            if not _group_is_missing(exc):
                raise
            self._create_group()
            reply = self.client.xreadgroup(GROUP, consumer, streams, count=count)
        return [self._event(entry, fields) for _, entries in reply or [] for entry, fields in entries if fields]

    def _create_group(self) -> None:
        try:  # from the start of the stream: events emitted before any dispatcher ran are sent
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @guard
    def claim_stale(self, consumer: str, idle_ms: int, count: int) -> list[OutboxEvent]:
        """Events another dispatcher read and never settled for ``idle_ms``: it died."""
        try:
            reply = self.client.xautoclaim(self.stream, GROUP, consumer, idle_ms, count=count)
        except redis.exceptions.ResponseError as exc:
            if not _group_is_missing(exc):
                raise
            return []
        return [self._event(entry, fields) for entry, fields in reply[1] if fields]

    @guard
    def due(self, now_ms: int, lease_ms: int, count: int) -> list[OutboxEvent]:
        """Events whose retry is due, leased to the caller for ``lease_ms``."""
        reply = self.scripts.claim_webhooks(keys=self.keys, args=dict(now=now_ms, lease=lease_ms, count=count))
        return [self._event(entry, dict(zip(fields[::2], fields[1::2])), int(attempts))
                for entry, fields, attempts in reply]

    @guard
    def settle(self, event: OutboxEvent, *, due_ms: int = 0, attempt: int = 0) -> None:
        """Done with ``event`` (``due_ms`` 0), or try it again at ``due_ms``."""
        args = dict(group=GROUP, entry=event.entry_id, due=due_ms, attempt=attempt)
        self.scripts.settle_webhook(keys=self.keys, args=args)

    @guard
    def pending(self) -> int:
        """Events not yet delivered (new, in flight or waiting for a retry)."""
        return int(self.client.xlen(self.stream))

    @staticmethod
    def _event(entry: Any, fields: dict, attempt: int = 0) -> OutboxEvent:
        return OutboxEvent.from_fields(text(entry), {text(k): text(v) for k, v in fields.items()}, attempt)
