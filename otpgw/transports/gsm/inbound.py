"""Reassembly of concatenated inbound SMS.

Parts of one message share sender, reference and total (TS 23.040 §9.2.3.24.1); they
may arrive out of order, twice, or not at all. A complete message is handed on at once;
one whose missing parts have not come within the timeout is handed on as it is, marked
incomplete, because a half reply is more use to the operator than none.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from .address import Address
from .pdu import Deliver


@dataclass(frozen=True)
class Assembled:
    """A whole (or given-up) inbound message; ``slot`` names where its first part was."""

    sender: Address
    text: str
    received: int  # parts present
    total: int
    timestamp: datetime | None
    reference: int
    slot: str

    @property
    def complete(self) -> bool:
        return self.received == self.total


@dataclass
class _Partial:
    first: Deliver
    slot: str
    started: float
    texts: dict[int, str] = field(default_factory=dict)


class Reassembler:
    """Collects parts per (sender, reference, total). Thread-safe; time is passed in."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._partials: dict[tuple, _Partial] = {}
        self._lock = threading.Lock()

    def add(self, part: Deliver, slot: str, now: float) -> Assembled | None:
        """The message, if this part completes it (a single SMS completes itself)."""
        concat = part.user_data.concat
        if concat is None or concat.total <= 1:
            return _assembled(part, {1: part.user_data.text}, 1, slot)
        key = (part.sender.digits, part.sender.toa, concat.reference, concat.total)
        with self._lock:
            partial = self._partials.setdefault(key, _Partial(part, slot, now))
            partial.texts[concat.seq] = part.user_data.text
            if len(partial.texts) < concat.total:
                return None
            del self._partials[key]
        return _assembled(partial.first, partial.texts, concat.total, partial.slot)

    def expire(self, now: float) -> list[Assembled]:
        """Messages whose missing parts are overdue, as far as they came."""
        with self._lock:
            overdue = [key for key, p in self._partials.items() if now - p.started >= self.timeout_s]
            partials = [self._partials.pop(key) for key in overdue]
        return [_assembled(p.first, p.texts, p.first.user_data.concat.total, p.slot) for p in partials]


def _assembled(first: Deliver, texts: dict[int, str], total: int, slot: str) -> Assembled:
    """Join parts in order. UCS-2 parts are joined before surrogates are resolved, so a
    pair that a phone split across two parts becomes one character again."""
    joined = "".join(texts[seq] for seq in sorted(texts))
    text = joined.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
    concat = first.user_data.concat
    return Assembled(first.sender, text, len(texts), total, first.timestamp, concat.reference if concat else 0, slot)
