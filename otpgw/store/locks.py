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
    def release(self, scope: str, tag: str) -> bool:
        """scope is 'phone' or 'user'; clears the lock, the failure count and the level."""
        build = self.keys.phone if scope == "phone" else self.keys.user
        keys = dict(lock=build(tag, "lock"), fails=build(tag, "fails"), level=build(tag, "level"))
        return bool(self.scripts.release_lock(keys=keys, args={}))

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
