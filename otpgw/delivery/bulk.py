"""What a worker needs for a message of a batch that a code does not: its batch's text.

A batch's text, sender and reference are sealed once for the whole batch (a copy per
message would cost Redis a hundred bytes or more per queued message); each lane entry
carries only its recipient, sealed. The worker opens a batch's text once and keeps the
last few hundred in memory, so a 100,000-message batch costs one read of it per worker.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..domain.messages import parse_message_id
from ..domain.sealing import Sealer
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
