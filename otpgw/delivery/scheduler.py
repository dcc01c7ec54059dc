"""The scheduler: moves due batches' messages onto the bulk lane, a share at a time.

It runs inside every delivery worker that reads the bulk lane (``DeliveryWorker`` calls
``promote`` between reads), so it needs no process of its own, and a scheduled batch
lives only in Redis: it survives restarts of every worker and, with persistence, of
Redis itself. A message whose ``send_at`` passed while everything was down is promoted
on recovery, like any due one.

Exactly once: ``promote_batch.lua`` takes each message off its batch's list in the same
atomic step that adds it to the lane, so however many workers run this at once, each
message is added by exactly one of them. (What Redis acknowledged and then lost in a
fail-over to a replica that had not received it yet is redone: that is the limit of
Redis' asynchronous replication, and the same for codes.)

Fairness between batches: each pass gives every due batch an equal share of the room
left on the lane (and what the small ones leave to the others), so a small batch is
not stuck behind a large one; the lane itself is
kept short (``BACKLOG``), so messages wait in their batch, where a cancel still reaches
them, and the bulk lane never grows with a campaign.
"""
from __future__ import annotations

from typing import Callable

from ..store.messages import MessageStore

BACKLOG = 256  # messages the bulk lane may hold (stream and retry set): a fraction of a second of sending
DUE_PER_PASS = 32  # due batches looked at per pass, the longest due first
SHARE_MIN = 50  # each due batch moves at least this many per pass (when there is room)


class Scheduler:
    def __init__(self, store: MessageStore, clock: Callable[[], int], *, backlog: int = BACKLOG):
        self.store = store
        self.now_ms = clock
        self.backlog = backlog

    def promote(self) -> int:
        """One pass over the due batches; returns how many messages went onto the lane."""
        now = self.now_ms()
        due = self.store.due(now, DUE_PER_PASS)
        if not due:
            return 0
        moved = 0
        while due:  # rounds of equal shares; a batch that filled its share may have more
            share = max(SHARE_MIN, self.backlog // len(due))
            counts = [self.store.promote(batch_id, now, share, self.backlog) for batch_id in due]
            moved += sum(counts)
            due = [batch_id for batch_id, count in zip(due, counts) if count == share]
        return moved
