"""MessageStore: batches of ``/messages``, their messages, the schedule that releases them.

A batch is written in one pipelined round trip of short scripts: ``create_batch`` (the
Idempotency-Key and the client's daily cap, checked and counted together), one
``append_messages`` per chunk of about a thousand messages (so Redis serves codes between
chunks), and ``commit_batch``, which puts the batch on the schedule. Messages wait in
their batch's list until ``promote_batch`` moves them onto the bulk lane, a few at a
time, at their ``send_at``. Every status change after that is ``update_message``, from
the worker or from a carrier's report.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from ..domain.messages import COUNTED, BatchOutcome, BatchRecord, MessageRecord, NewBatch
from ..domain.outcomes import Lane
from ..domain.sms import DeliveryReport
from .codes import text
from .errors import guard
from .keys import NONE, KeySpace
from .outbox import outbox_key
from .scripts import Scripts

CHUNK = 1000  # messages per append_messages call
WRITING_TTL_MS = 120_000  # an Idempotency-Key is held this long by a batch being written


class MessageStore:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts, *, bulk_ttl_ms: int):
        self.client = client
        self.keys = keys
        self.scripts = scripts
        self.bulk_ttl_ms = bulk_ttl_ms

    def _batch(self, batch_id: str) -> dict[str, str]:
        return {kind: self.keys.batch(batch_id, kind) for kind in ("meta", "pending", "records")}

    @guard
    def opted_out(self, phone_tags: Sequence[str]) -> set[int]:
        """Positions of the tags whose phone has opted out: one MGET per chunk, pipelined in
        one round trip (a Cluster client pipelines no MGET: there, one round trip per chunk)."""
        chunks = [[self.keys.phone(tag, "optout") for tag in phone_tags[start:start + CHUNK]]
                  for start in range(0, len(phone_tags), CHUNK)]
        if self.keys.single_slot:
            replies = [self.client.mget(chunk) for chunk in chunks]
        else:
            pipe = self.client.pipeline(transaction=False)
            for chunk in chunks:
                pipe.mget(chunk)
            replies = pipe.execute()
        flags = [flag for reply in replies for flag in reply]
        return {position for position, flag in enumerate(flags) if flag is not None}

    @guard
    def write(self, batch: NewBatch) -> BatchOutcome:
        """Create, fill and commit ``batch`` in one pipelined round trip (redis-py checks the
        scripts are loaded first). A Cluster client pipelines no script: there the calls go
        one after the other."""
        calls = self._calls(batch)
        if self.keys.single_slot:
            script, keys, args = calls[0]
            created = [text(r) for r in script(keys=keys, args=args)]
            if created[0] != "ok":
                return self._outcome(batch, created, 0)
            return self._outcome(batch, created, [script(keys=k, args=a) for script, k, a in calls[1:]][-1])
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args in calls:
            script(keys=keys, args=args, client=pipe)
        replies = pipe.execute()
        return self._outcome(batch, [text(r) for r in replies[0]], replies[-1])

    def _calls(self, batch: NewBatch) -> list[tuple[Any, dict[str, str], dict[str, Any]]]:
        """(script, keys, args): create_batch, one append_messages per chunk, commit_batch."""
        keys = self._batch(batch.batch_id)
        idempotency = self.keys.batch_idempotency(batch.idempotency_tag)
        day = self.keys.client_recipients_day(batch.client, batch.day)
        calls = [(self.scripts.create_batch, dict(meta=keys["meta"], idempotency=idempotency, client_day=day),
                  self._create_args(batch))]
        calls += [(self.scripts.append_messages, dict(meta=keys["meta"], pending=keys["pending"]),
                   dict(entries="\n".join(batch.entries[start:start + CHUNK])))
                  for start in range(0, len(batch.entries), CHUNK)]
        calls.append((self.scripts.commit_batch, dict(meta=keys["meta"], schedule=self.keys.schedule(),
                                                       idempotency=idempotency),
                      dict(batch=batch.batch_id, now=batch.now_ms,
                           idem_ttl=batch.idempotency_ttl_ms if batch.idempotency_tag else 0)))
        return calls

    @staticmethod
    def _create_args(batch: NewBatch) -> dict[str, Any]:
        return dict(batch=batch.batch_id, now=batch.now_ms, client=batch.client, total=len(batch.entries),
                    send_at=batch.send_at_ms, deadline=batch.deadline_ms, sealed=batch.sealed,
                    segments=batch.segments, encoding=batch.encoding, hook=batch.hook, day_cap=batch.day_cap,
                    day_left=batch.ms_to_day_end, retention=batch.retention_ms,
                    request=batch.request_digest if batch.idempotency_tag else "",
                    opted_out=json.dumps(list(batch.opted_out)), writing_ttl=WRITING_TTL_MS)

    @staticmethod
    def _outcome(batch: NewBatch, created: list[str], committed: Any) -> BatchOutcome:
        if created[0] == "replayed":
            return BatchOutcome(replayed=True, batch_id=created[1], opted_out=tuple(json.loads(created[2])))
        if created[0] == "rate_limited":
            return BatchOutcome("rate_limited", int(created[1]), created[2])
        if created[0] != "ok":
            return BatchOutcome(created[0])
        if not int(committed):  # every chunk ran in order in the same pipeline: a bug, not an outage
            raise RuntimeError(f"batch {batch.batch_id} was created but could not be committed")
        return BatchOutcome(batch_id=batch.batch_id)

    @guard
    def batch(self, batch_id: str) -> BatchRecord | None:
        return _batch_record(batch_id, self.client.hgetall(self.keys.batch(batch_id, "meta")))

    @guard
    def message(self, batch_id: str, index: int) -> tuple[BatchRecord | None, MessageRecord]:
        """A message's batch and its own record, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.batch(batch_id, "meta"))
        pipe.hget(self.keys.batch(batch_id, "records"), str(index))
        meta, raw = pipe.execute()
        return _batch_record(batch_id, meta), MessageRecord.from_raw(json.loads(raw) if raw else None)

    @guard
    def page(self, batch_id: str, start: int, count: int) -> tuple[BatchRecord | None, list[MessageRecord]]:
        """A batch and the records of its messages ``start`` .. ``start + count - 1``."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.batch(batch_id, "meta"))
        pipe.hmget(self.keys.batch(batch_id, "records"), [str(i) for i in range(start, start + count)] or ["-"])
        meta, raws = pipe.execute()
        records = [MessageRecord.from_raw(json.loads(raw) if raw else None) for raw in raws[:count]]
        return _batch_record(batch_id, meta), records

    @guard
    def cancel(self, batch_id: str, client: str, now_ms: int) -> str:
        keys = dict(meta=self.keys.batch(batch_id, "meta"), pending=self.keys.batch(batch_id, "pending"),
                    schedule=self.keys.schedule(), outbox=outbox_key(self.keys))
        return text(self.scripts.cancel_batch(keys=keys, args=dict(batch=batch_id, client=client, now=now_ms)))

    @guard
    def sealed_text(self, batch_id: str) -> str | None:
        value = self.client.hget(self.keys.batch(batch_id, "meta"), "sealed")
        return text(value) if value is not None else None

    @guard
    def due(self, now_ms: int, limit: int) -> list[str]:
        """Batches whose messages may go onto the lane now, the longest due first."""
        return [text(b) for b in self.client.zrangebyscore(self.keys.schedule(), "-inf", now_ms, start=0, num=limit)]

    @guard
    def promote(self, batch_id: str, now_ms: int, count: int, backlog: int) -> int:
        """Move up to ``count`` of the batch's next messages onto the bulk lane, keeping its
        backlog (stream and retry set) within ``backlog``."""
        keys = dict(schedule=self.keys.schedule(), meta=self.keys.batch(batch_id, "meta"),
                    pending=self.keys.batch(batch_id, "pending"), lane=self.keys.lane(Lane.BULK.value),
                    retries=self.keys.retries(Lane.BULK.value), outbox=outbox_key(self.keys))
        args = dict(batch=batch_id, now=now_ms, count=count, backlog=backlog, lane_ttl=self.bulk_ttl_ms)
        return int(self.scripts.promote_batch(keys=keys, args=args))

    @guard
    def record_delivery(self, batch_id: str, index: int, message_id: str, report: DeliveryReport, now_ms: int, *,
                        carrier_ids: tuple[str, ...] = (), parts: int = 0) -> bool:
        """Apply a carrier's report to a message; False when unknown or stale."""
        keys = dict(lane=self.keys.key(NONE, "lane"), meta=self.keys.batch(batch_id, "meta"),
                    records=self.keys.batch(batch_id, "records"), sender=self.keys.key(NONE, "sender"),
                    outbox=outbox_key(self.keys))
        args = dict(group="", entry="", index=index, id=message_id, status=report.status.value,
                    transport=report.transport, now=now_ms, carrier_ids=",".join(carrier_ids), detail=report.detail,
                    error_code=report.error_code, parts=parts, part=report.carrier_id, sender_ttl=0)
        return bool(self.scripts.update_message(keys=keys, args=args))


def _batch_record(batch_id: str, raw: dict) -> BatchRecord | None:
    meta = {text(k): text(v) for k, v in raw.items()}
    if not meta or meta.get("state") == "writing":
        return None
    return BatchRecord(
        batch_id=batch_id, client=meta["client"], state=meta["state"], created_ms=int(meta["created"]),
        send_at_ms=int(meta["send_at"]), deadline_ms=int(meta["deadline"]), total=int(meta["total"]),
        sealed=meta["sealed"], segments=int(meta["segments"]), encoding=meta["encoding"],
        counts={status: int(meta.get(f"n_{status.value}", 0)) for status in COUNTED},
        completed_ms=int(meta.get("completed_at", 0)), canceled_ms=int(meta.get("canceled_at", 0)))

