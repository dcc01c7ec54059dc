"""What a worker needs for messages of a batch that codes do not: texts and turns.

A batch's text, sender and reference are sealed once for the whole batch (a copy per
message would cost Redis a hundred bytes or more per queued message); each lane entry
carries only its recipient, sealed. The worker opens a batch's text once and keeps the
last few hundred in memory (``BatchTexts``), so a 100,000-message batch costs one read
of it per worker. ``Turns`` holds the bulk messages that wait for a token.
"""
from __future__ import annotations

import heapq
import itertools
import threading
from collections import OrderedDict
from typing import Callable

from ..domain.messages import parse_message_id
from ..domain.sealing import Sealer
from ..domain.sms import QueuedMessage
from ..store.messages import MessageStore

KEPT = 256  # batches whose text a worker keeps open


class BatchTexts:
    def __init__(self, store: MessageStore, sealer: Sealer):
        self.store = store
        self.sealer = sealer
        self._open: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def payload(self, reference: str, sealed_recipient: str) -> dict | None:
        """The message as a transport needs it: the recipient's number and classification
        (``to``, ``cc``, ``nt``), the batch's ``text`` and ``from``; None when the batch is gone.
        Raises ``SealError`` (or ``SealKeyUnknown``) as ``Sealer.open`` does."""
        batch_id = (parse_message_id(reference) or ("", 0))[0]
        content = self._batch(batch_id)
        if content is None:
            return None
        return {**self.sealer.open(sealed_recipient), "text": content["text"], "from": content.get("from", "")}

    def _batch(self, batch_id: str) -> dict | None:
        with self._lock:
            if batch_id in self._open:
                self._open.move_to_end(batch_id)
                return self._open[batch_id]
        sealed = self.store.sealed_text(batch_id) if batch_id else None
        if sealed is None:
            return None
        content = self.sealer.open(sealed)
        with self._lock:
            self._open[batch_id] = content
            while len(self._open) > KEPT:
                self._open.popitem(last=False)
        return content


class Turns:
    """Bulk messages waiting for their turn at a rate-limited transport, held by the worker
    in no sending slot (``Dispatcher.defer``): the slots stay free for codes and for
    messages to other transports, and no Redis round trip is spent on a wait of less than
    a second. A message stays pending on its lane meanwhile, so if the worker dies another
    claims it. At most ``capacity`` wait; a message beyond that waits in Redis instead."""

    def __init__(self, capacity: int, clock: Callable[[], int]):
        self.capacity = capacity
        self.now_ms = clock
        self._heap: list[tuple[int, int, QueuedMessage]] = []  # (due ms, arrival order, message)
        self._order = itertools.count()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._heap)

    def defer(self, message: QueuedMessage, due_ms: int) -> bool:
        with self._lock:
            if len(self._heap) >= self.capacity:
                return False
            heapq.heappush(self._heap, (due_ms, next(self._order), message))
        return True

    def due(self, room: int) -> list[QueuedMessage]:
        """Up to ``room`` messages whose turn has come, earliest first."""
        now, due = self.now_ms(), []
        with self._lock:
            while self._heap and self._heap[0][0] <= now and len(due) < room:
                due.append(heapq.heappop(self._heap)[2])
        return due

    def drain(self) -> list[tuple[int, QueuedMessage]]:
        """Every waiting message with its turn, emptying the waiting room (a stopping worker)."""
        with self._lock:
            held, self._heap = self._heap, []
        return [(due_ms, message) for due_ms, _, message in held]
