"""Freshness and replay checks for signed callbacks whose carrier SDK checks neither.

A valid signature proves who sent a callback, not when: a recorded Vonage delivery
receipt would verify forever. So a signed callback must also carry a ``timestamp``
within ``window_s`` of our clock, and its ``nonce`` must not have been seen within that
window. Nonces are remembered in memory, per process, for twice the window (anything
older fails the timestamp check anyway), up to ``capacity`` entries (the oldest are
forgotten first). Several processes behind a load balancer each keep their own memory,
so a replay sent to another process within the window is caught only by the timestamp;
that is the documented limit of this check.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..base import ForgedCallbackError


class NonceWindow:
    def __init__(self, window_s: float = 300.0, capacity: int = 100_000) -> None:
        self.window_s = window_s
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_fresh(self, timestamp: str, now_s: float) -> None:
        """Raise ForgedCallbackError unless ``timestamp`` (epoch seconds) is near now."""
        try:
            stamp = float(timestamp)
        except (TypeError, ValueError):
            raise ForgedCallbackError("callback without a valid timestamp") from None
        if abs(now_s - stamp) > self.window_s:
            raise ForgedCallbackError(f"stale callback: timestamp is {abs(now_s - stamp):.0f} s from now")

    def remember(self, nonce: str, now_s: float) -> None:
        """Record ``nonce``; raise ForgedCallbackError if it was seen within the window."""
        if not nonce:
            raise ForgedCallbackError("callback without a nonce")
        with self._lock:
            self._forget_expired(now_s)
            if nonce in self._seen:
                raise ForgedCallbackError("replayed callback: nonce already seen")
            self._seen[nonce] = now_s + 2 * self.window_s
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)

    def _forget_expired(self, now_s: float) -> None:
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires > now_s:
                return
            del self._seen[nonce]
