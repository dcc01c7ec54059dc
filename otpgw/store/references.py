"""ReferenceStore: which carrier message belongs to which otpgw reference, with a TTL.

Keys are opaque tags made by the caller (a modem's key names the recipient's number, so
it is never stored as is); the value is the otpgw reference, which names no one.
"""
from __future__ import annotations

from typing import Any

from .codes import text
from .errors import guard
from .keys import KeySpace


class ReferenceStore:
    def __init__(self, client: Any, keys: KeySpace):
        self.client = client
        self.keys = keys

    def _key(self, transport: str, tag: str) -> str:
        return self.keys.key(f"t{transport}", f"ref:{tag}")

    @guard
    def put(self, transport: str, tag: str, reference: str, ttl_s: int) -> None:
        self.client.set(self._key(transport, tag), reference, ex=max(1, ttl_s))

    @guard
    def get(self, transport: str, tag: str) -> str | None:
        value = self.client.get(self._key(transport, tag))
        return text(value) if value is not None else None
