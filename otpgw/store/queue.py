"""DeliveryQueue: the lanes messages wait on, read through consumer groups.

A lane is a stream plus a retry set. The send script appends to the ``otp`` lane (bulk
traffic to ``bulk``); a message routed to a host-bound transport (a modem) moves to that
transport's own lane ``t.<name>``, which only the worker owning the device reads. An
entry is removed only by the script that records its outcome or moves it elsewhere, so
a worker that dies leaves it pending, and another claims it (``claim_stale``).
Lanes are a handful of permanent keys; their groups are created at a worker's start
and again if Redis lost them (a restart without persistence).
"""
from __future__ import annotations

import json
from typing import Any

import redis

from ..domain.codes import tag_of
from ..domain.messages import parse_message_id
from ..domain.outcomes import DeliveryStatus, Lane, MessageStatus
from ..domain.sms import QueuedMessage, Receipt
from .codes import text
from .errors import guard
from .keys import KeySpace
from .outbox import outbox_key
from .scripts import Scripts

GROUP = "workers"


def _group_is_missing(exc: redis.exceptions.ResponseError) -> bool:
    """Redis says NOGROUP (or UNBLOCKED when a lane expired under a blocking read); the
    embedded store says the key must exist."""
    message = str(exc)
    return any(sign in message for sign in ("NOGROUP", "UNBLOCKED", "requires the key to exist"))


class DeliveryQueue:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts, lane_ttl_ms: int, *, bulk_ttl_ms: int = 0,
                 sender_ttl_ms: int = 0):
        self.client = client
        self.keys = keys
        self.scripts = scripts
        self.lane_ttl_ms = lane_ttl_ms
        # the bulk lane holds messages valid for hours: it must outlive them, not a code
        self.bulk_ttl_ms = max(bulk_ttl_ms, lane_ttl_ms)
        self.sender_ttl_ms = sender_ttl_ms  # how long a recipient's replies belong to the sender

    def ttl_ms(self, lane: str) -> int:
        return self.bulk_ttl_ms if lane == Lane.BULK.value else self.lane_ttl_ms

    @guard
    def prepare(self, lane: str, now_ms: int, limit: int = 100) -> int:
        """Make ``lane`` readable (stream and group exist) and promote its due retries;
        returns how many retries were promoted."""
        keys = dict(lane=self.keys.lane(lane), retries=self.keys.retries(lane))
        args = dict(group=GROUP, now=now_ms, limit=limit, lane_ttl=self.ttl_ms(lane))
        return int(self.scripts.prepare_lane(keys=keys, args=args))

    @guard
    def read(self, lanes: list[str], consumer: str, count: int, block_ms: int) -> list[QueuedMessage]:
        """New messages of ``lanes``, the earlier lanes' first; blocks only when all are empty."""
        streams = {self.keys.lane(lane): ">" for lane in lanes}
        reply = self._read(streams, lanes, consumer, count, None)
        if not reply and block_ms:
            reply = self._read(streams, lanes, consumer, count, block_ms)
        by_stream = {text(stream): entries for stream, entries in reply or []}
        return [self._message(entry_id, lane, fields)
                for lane in lanes for entry_id, fields in by_stream.get(self.keys.lane(lane), []) if fields]

    def _read(self, streams: dict[str, str], lanes: list[str], consumer: str, count: int, block: int | None):
        try:
            return self.client.xreadgroup(GROUP, consumer, streams, count=count, block=block)
        except redis.exceptions.ResponseError as exc:
            if not _group_is_missing(exc):
                raise
            for lane in lanes:  # the group starts at 0: nothing queued before is missed
                self.prepare(lane, 0)
            return self.client.xreadgroup(GROUP, consumer, streams, count=count)

    @guard
    def claim_stale(self, lane: str, consumer: str, idle_ms: int, count: int) -> list[QueuedMessage]:
        """Messages another worker took and left unacknowledged for ``idle_ms``: it died."""
        try:
            reply = self.client.xautoclaim(self.keys.lane(lane), GROUP, consumer, idle_ms, count=count)
        except redis.exceptions.ResponseError as exc:
            if not _group_is_missing(exc):
                raise
            return []
        return [self._message(entry_id, lane, fields) for entry_id, fields in reply[1] if fields]

    @staticmethod
    def _message(entry_id: Any, lane: str, fields: dict) -> QueuedMessage:
        return QueuedMessage.from_fields(text(entry_id), lane, {text(k): text(v) for k, v in fields.items()})

    @guard
    def finish(self, message: QueuedMessage, status: DeliveryStatus | MessageStatus, now_ms: int, *, transport: str,
               receipt: Receipt | None = None, detail: str = "", error_code: str = "") -> bool:
        """Acknowledge and record the outcome, in one script; False if another worker had.
        A message of a batch may also end ``canceled`` (its batch was)."""
        outcome = dict(status=status.value, transport=transport, now=now_ms, detail=detail, error_code=error_code,
                       carrier_ids=",".join(receipt.carrier_ids) if receipt else "",
                       parts=receipt.parts if receipt else 0, part="")
        if message.is_message:
            return self._finish_message(message, outcome)
        keys = dict(lane=self.keys.lane(message.lane), codes=self.keys.codes(tag_of(message.reference)),
                    outbox=outbox_key(self.keys))
        args = dict(group=GROUP, entry=message.entry_id, id=message.reference, **outcome)
        return bool(self.scripts.finish_message(keys=keys, args=args))

    def _finish_message(self, message: QueuedMessage, outcome: dict[str, Any]) -> bool:
        batch_id, index = parse_message_id(message.reference) or ("", 0)
        keys = dict(lane=self.keys.lane(message.lane), meta=self.keys.batch(batch_id, "meta"),
                    records=self.keys.batch(batch_id, "records"), sender=self.keys.last_sender(message.tag),
                    outbox=outbox_key(self.keys))
        args = dict(group=GROUP, entry=message.entry_id, index=index, id=message.reference,
                    sender_ttl=self.sender_ttl_ms, **outcome)
        return bool(self.scripts.update_message(keys=keys, args=args))

    @guard
    def move(self, message: QueuedMessage, to_lane: str, due_ms: int, now_ms: int, *, detail: str = "",
             transport: str = "", **changes: object) -> bool:
        """Take ``message`` off its lane to wait in ``to_lane``'s retry set until ``due_ms``,
        with its fields changed (attempt, step, pin); False if another worker had it."""
        records, ref = self._records(message)
        keys = dict(lane=self.keys.lane(message.lane), retries=self.keys.retries(to_lane), codes=records)
        fields = json.dumps(message.fields(**changes), sort_keys=True)
        args = dict(group=GROUP, entry=message.entry_id, id=ref, due=due_ms, fields=fields,
                    now=now_ms, detail=detail, transport=transport, lane_ttl=self.ttl_ms(to_lane))
        return bool(self.scripts.move_message(keys=keys, args=args))

    def _records(self, message: QueuedMessage) -> tuple[str, str]:
        """The hash that holds the message's record, and its field there."""
        if message.is_message:
            batch_id, index = parse_message_id(message.reference) or ("", 0)
            return self.keys.batch(batch_id, "records"), str(index)
        return self.keys.codes(tag_of(message.reference)), message.reference

    @guard
    def stats(self, lane: str) -> tuple[int, int | None]:
        """(waiting count incl. retries, id-time of the oldest entry in ms or None)."""
        stream = self.keys.lane(lane)
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(stream)
        pipe.zcard(self.keys.retries(lane))
        pipe.xrange(stream, count=1)
        length, waiting, first = pipe.execute()
        return length + waiting, int(text(first[0][0]).split("-")[0]) if first else None
