"""The fake transport: records messages in memory and fails on request, for tests.

It ships with the package so tests never monkeypatch: queue failures with
``fail_next(error)`` and read what was sent from ``sent``.
"""
from __future__ import annotations

import threading

from .base import Message, Transport, TransportError


class FakeTransport(Transport):
    name = "fake"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.attempts = 0
        self._failures: list[TransportError] = []
        self._lock = threading.Lock()
        self.usable = True

    def fail_next(self, *errors: TransportError) -> None:
        with self._lock:
            self._failures.extend(errors)

    def send(self, message: Message) -> tuple[str, ...]:
        with self._lock:
            self.attempts += 1
            if self._failures:
                raise self._failures.pop(0)
            self.sent.append(message)
            return (f"fake-{len(self.sent)}",)

    def check(self) -> None:
        if not self.usable:
            raise TransportError("fake transport marked unusable")
