"""Delivery reports: which message a ``+CDS`` is about, and what its TP-ST means.

A modem names a submitted part only by its TP-MR, one octet that it counts up and wraps
at 255, and a status report carries that TP-MR and the recipient. So every part sent is
remembered in a ``ReferenceIndex`` under (transport, modem, TP-MR, recipient) for the
validity period plus ``report_window``: that lifetime is the matching window, and a
wrapped TP-MR overwrites the entry it replaces. The recipient in a key is its last nine
digits, because networks sometimes report it in national format. The index must outlive
a worker restart in production (the worker backs it with Redis); ``MemoryIndex`` serves
tests and single-process use.

TP-ST (TS 23.040 §9.2.3.15) becomes a ``DeliveryStatus``:

- 0x00-0x1F, transaction completed (received, forwarded, replaced): ``delivered``;
- 0x20-0x3F, temporary error and the SMSC is still trying: nothing is reported (the
  final report follows);
- 0x46 (validity period expired) and 0x60-0x7F (temporary error, the SMSC gave up:
  congestion, handset busy or silent): ``undelivered``, the handset was not reached;
- other 0x40-0x5F (permanent error: incompatible destination, rejected, not
  obtainable, deleted) and reserved values: ``failed``, the message was refused.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from ...domain.outcomes import DeliveryStatus
from ...domain.sms import DeliveryReport
from .pdu import StatusReport

STATUS_TEXT = {
    0x00: "received by the handset", 0x01: "forwarded, delivery unconfirmed", 0x02: "replaced by the SMSC",
    0x40: "remote procedure error", 0x41: "incompatible destination", 0x42: "connection rejected by the handset",
    0x43: "not obtainable", 0x44: "quality of service not available", 0x45: "no interworking available",
    0x46: "validity period expired", 0x47: "deleted by the sender", 0x48: "deleted by the SMSC administration",
    0x49: "message does not exist", 0x60: "congestion", 0x61: "handset busy", 0x62: "no response from handset",
    0x63: "service rejected", 0x64: "quality of service not available", 0x65: "error in handset",
}


class ReferenceIndex(Protocol):
    """Where the part -> message memory lives; keys may hold a number, values never do."""

    def put(self, key: str, reference: str, ttl_s: int) -> None: ...

    def get(self, key: str) -> str | None: ...


class MemoryIndex:
    """A ``ReferenceIndex`` in this process's memory, with expiry. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._items: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, reference: str, ttl_s: int) -> None:
        now = self._clock()
        with self._lock:
            if len(self._items) > 4096:
                self._items = {k: v for k, v in self._items.items() if v[1] > now}
            self._items[key] = (reference, now + ttl_s)

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
        return item[0] if item and item[1] > self._clock() else None


def report_status(st: int) -> DeliveryStatus | None:
    """The delivery status of TP-ST (see the module docstring); None while still trying."""
    if st < 0x20:
        return DeliveryStatus.DELIVERED
    if st < 0x40:
        return None
    if st == 0x46 or 0x60 <= st < 0x80:
        return DeliveryStatus.UNDELIVERED
    return DeliveryStatus.FAILED


def carrier_id(modem_id: str, mr: int) -> str:
    """The id of one submitted part, as ``Receipt.carrier_ids`` and reports show it."""
    return f"{modem_id}:{mr}"


class DeliveryLedger:
    """Remembers the parts a transport sent and turns status reports into ``DeliveryReport``s."""

    def __init__(self, transport: str, index: ReferenceIndex, window_s: int):
        self.transport = transport
        self.index = index
        self.window_s = window_s

    def key(self, modem_id: str, mr: int, recipient: str) -> str:
        tail = "".join(c for c in recipient if c.isdigit())[-9:]
        return f"gsm:{self.transport}:{modem_id}:{mr}:{tail}"

    def remember(self, modem_id: str, mr: int, recipient: str, reference: str, validity_s: int) -> None:
        self.index.put(self.key(modem_id, mr, recipient), reference, validity_s + self.window_s)

    def report(self, modem_id: str, report: StatusReport) -> DeliveryReport | None:
        """The event for a status report, or None (still trying, or no part of ours)."""
        status = report_status(report.status)
        if status is None:
            return None
        reference = self.index.get(self.key(modem_id, report.reference, report.recipient.text))
        if reference is None:
            return None
        failed = status is not DeliveryStatus.DELIVERED
        return DeliveryReport(self.transport, status, reference, carrier_id(modem_id, report.reference),
                              error_code=f"TP-ST 0x{report.status:02X}" if failed else "",
                              detail=STATUS_TEXT.get(report.status, "reserved status"))
