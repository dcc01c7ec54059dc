"""``ModemTransport``: SMS through GSM modems attached to this host (``type = "modem"``).

One transport is one modem or a pool of them (``ports = [...]``), each with its own
reader and supervisor threads (``modem.Modem``). What the worker may rely on:

- ``send`` submits every part once on one ready modem and returns a ``Receipt`` with one
  carrier id per part, ``"<modem id>:<TP-MR>"`` (``"gsm0:17"``); never a number. It
  raises ``PermanentTransportError`` for a refused number or message (``+CMS ERROR:
  304``...), ``OutcomeUnknownError`` when the PDU went out but ``+CMGS`` never came, and
  ``TemporaryTransportError`` otherwise (no modem ready, network busy, modem trouble).
  ``TransportError.code`` holds the modem's code (``"CMS 304"``).
- The validity period in each PDU is the code's remaining lifetime, capped at
  ``validity_max``, never longer.
- ``start(sink)`` opens the ports in the background. The sink gets a
  ``DeliveryReport`` for each part's final status report (``reference`` = the message's
  otpgw reference, ``carrier_id`` = that part's id) and an ``InboundMessage`` for each
  SMS received (parts reassembled). It is called from the modem's supervisor thread.
- ``index`` keeps part -> message references (see ``reports``); set it before ``start``
  to one that survives a restart (Redis). The default lives in memory.
"""
from __future__ import annotations

import time
from typing import Callable

from ..base import Message, Options, Receipt, Sink, TemporaryTransportError, Transport, TransportHealth
from .modem import Modem
from .pool import ModemPool
from .reports import DeliveryLedger, MemoryIndex, ReferenceIndex
from .settings import ModemSettings


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ModemTransport(Transport):
    type_name = "modem"
    host_bound = True

    def __init__(self, name: str, settings: ModemSettings, *, index: ReferenceIndex | None = None,
                 clock_ms: Callable[[], int] = _now_ms):
        super().__init__(name)
        self.settings = settings
        self.ledger = DeliveryLedger(name, index or MemoryIndex(), settings.report_window)
        self.pool = ModemPool(name, settings.strategy, settings.ready_wait)
        for number, url in enumerate(settings.ports):
            self.pool.add(Modem(f"{name}{number}", url, settings, transport=name, ledger=self.ledger,
                                clock_ms=clock_ms, on_change=self.pool.changed))
        self._started = self._closed = False

    @classmethod
    def from_config(cls, name: str, options: Options) -> "ModemTransport":
        return cls(name, ModemSettings.from_options(options))

    @property
    def index(self) -> ReferenceIndex:
        return self.ledger.index

    @index.setter
    def index(self, index: ReferenceIndex) -> None:
        self.ledger.index = index

    def use_index(self, index: ReferenceIndex) -> None:
        self.index = index

    @property
    def modems(self) -> list[Modem]:
        return self.pool.modems

    def start(self, sink: Sink) -> None:
        if self._started:
            return
        self._started = True
        for modem in self.modems:
            modem.inbox.sink = sink
            modem.start()

    def send(self, message: Message) -> Receipt:
        if not self._started or self._closed:
            raise TemporaryTransportError(f"transport {self.name!r} is not started")
        return self.pool.pick().send(message)

    def check(self) -> None:
        if not any(modem.ready for modem in self.modems):
            raise TemporaryTransportError(f"no modem ready ({self.pool.summary()})")

    def health(self) -> TransportHealth:
        ready = any(modem.ready for modem in self.modems)
        facts = {"modems": {modem.id: modem.facts.as_dict() for modem in self.modems}}
        return TransportHealth(ready, "" if ready else f"no modem ready ({self.pool.summary()})", facts)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for modem in self.modems:
            modem.stop()
