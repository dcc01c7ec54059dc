"""LockStore: what an operator (or an inbound STOP) changes: lockouts and opt-outs."""
from __future__ import annotations

from typing import Any

from .errors import guard
from .keys import KeySpace
from .scripts import Scripts

OPT_OUT_TTL_MS = 400 * 86400 * 1000  # consent records are kept about 13 months


class LockStore:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts):
        self.client = client
        self.keys = keys
        self.scripts = scripts

    @guard
    def release(self, scope: str, tag: str, clients: tuple[str, ...] = ()) -> bool:
        """scope is 'phone' or 'user'; clears the lock, the failure count and the level. A
        phone's lockouts are released for each of ``clients`` and in the global scope."""
        if scope == "user":
            builds = [lambda kind: self.keys.user(tag, kind)]
        else:
            builds = [lambda kind, c=c: self.keys.lockout(tag, kind, c) for c in ("", *clients)]
        released = False
        for build in builds:
            keys = dict(lock=build("lock"), fails=build("fails"), level=build("level"))
            released = bool(self.scripts.release_lock(keys=keys, args={})) or released
        return released

    @guard
    def set_opt_out(self, phone_tag: str, opted_out: bool) -> None:
        key = self.keys.phone(phone_tag, "optout")
        if opted_out:
            self.client.set(key, "1", px=OPT_OUT_TTL_MS)
        else:
            self.client.delete(key)

    @guard
    def is_opted_out(self, phone_tag: str) -> bool:
        return bool(self.client.exists(self.keys.phone(phone_tag, "optout")))
