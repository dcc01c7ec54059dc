"""The fake transport: records messages in memory and fails on request, for tests.

It ships with the package so tests never monkeypatch: queue failures with
``fail_next(error)`` and read what was sent from ``sent``.
"""
from __future__ import annotations

import threading

from .base import Message, Options, Receipt, Transport, TransportError


class FakeTransport(Transport):
    type_name = "fake"

    def __init__(self, name: str = "fake") -> None:
        super().__init__(name)
        self.sent: list[Message] = []
        self.attempts = 0
        self._failures: list[TransportError] = []
        self._lock = threading.Lock()
        self.usable = True

    @classmethod
    def from_config(cls, name: str, options: Options) -> "FakeTransport":
        options.done()
        return cls(name)

    def fail_next(self, *errors: TransportError) -> None:
        with self._lock:
            self._failures.extend(errors)

    def send(self, message: Message) -> Receipt:
        with self._lock:
            self.attempts += 1
            if self._failures:
                raise self._failures.pop(0)
            self.sent.append(message)
            return Receipt.for_message(message, (f"{self.name}-{len(self.sent)}",))

    def check(self) -> None:
        if not self.usable:
            raise TransportError("fake transport marked unusable")


class FakeDeviceTransport(FakeTransport):
    """A fake bound to one host, as a modem is: only a worker that owns it sends through
    it, and messages routed to it travel on its own lane. For tests of that hand-off."""

    type_name = "fake-device"
    host_bound = True
