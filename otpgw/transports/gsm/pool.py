"""Several modems behind one transport name: each send goes to one ready modem.

Round robin spreads sends evenly (SIM plans often cap messages per SIM per day), passing
over a modem still busy with a send when another is idle, so no send queues behind a
slow modem while one waits; least busy sends to the modem with the fewest sends in
flight (including those queued for it), ties going round. A modem that
is not ready (reopening, unregistered, SIM blocked) is skipped. When none is ready a send
waits up to ``ready_wait`` seconds for one (a modem that is just starting or reopening),
then raises ``TemporaryTransportError`` so the worker backs off or fails over. The pool
never retries a failed send on another modem: the worker owns retries.
"""
from __future__ import annotations

import threading
import time

from ..base import TemporaryTransportError
from .modem import Modem
from .settings import Strategy
from .state import ModemState

_FOR_GOOD = (ModemState.SIM_BLOCKED, ModemState.STOPPED)


class ModemPool:
    def __init__(self, name: str, strategy: Strategy, ready_wait: float):
        self.name = name
        self.strategy = strategy
        self.ready_wait = ready_wait
        self.modems: list[Modem] = []
        self._cursor = 0
        self._cond = threading.Condition()

    def add(self, modem: Modem) -> None:
        self.modems.append(modem)

    def changed(self) -> None:
        """A modem changed state: wake sends waiting for a ready one."""
        with self._cond:
            self._cond.notify_all()

    def pick(self) -> Modem:
        deadline = time.monotonic() + self.ready_wait
        with self._cond:
            while True:
                chosen = self._choose()
                if chosen is not None:
                    return chosen
                remaining = deadline - time.monotonic()
                if remaining <= 0 or all(m.facts.state in _FOR_GOOD for m in self.modems):
                    raise TemporaryTransportError(f"no modem of transport {self.name!r} is ready ({self.summary()})")
                self._cond.wait(remaining)

    def summary(self) -> str:
        return ", ".join(f"{m.id} {m.facts.state.value}" for m in self.modems)

    def _choose(self) -> Modem | None:
        count = len(self.modems)
        rotation = [self.modems[(self._cursor + step) % count] for step in range(count)]
        ready = [modem for modem in rotation if modem.ready]
        if not ready:
            return None
        if self.strategy is Strategy.LEAST_BUSY:
            chosen = min(ready, key=lambda m: m.busy)
        else:  # the next in turn, passing over busy ones while another is idle
            chosen = next((m for m in ready if m.busy == 0), ready[0])
        self._cursor = (self.modems.index(chosen) + 1) % count
        return chosen
