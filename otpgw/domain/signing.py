"""Per-message callback tokens: a keyed MAC a carrier echoes back in its callback URL.

Kannel and templated HTTP carriers sign nothing, so otpgw puts a token into the callback
URL it gives them for each message: ``HMAC-SHA256(key, transport | reference)``,
truncated to 128 bits. A callback whose token does not match its reference under any
configured key (rotation: the newest signs, all check) changes nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac


class CallbackTokens:
    def __init__(self, secret_keys: tuple[str, ...]):
        self._keys = [hashlib.sha256(b"otpgw-callback\x00" + k.encode()).digest() for k in secret_keys]

    def _token(self, key: bytes, transport: str, reference: str) -> str:
        mac = hmac.new(key, f"{transport}\x00{reference}".encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def sign(self, transport: str, reference: str) -> str:
        return self._token(self._keys[0], transport, reference)

    def check(self, transport: str, reference: str, token: str) -> bool:
        given = token.encode()
        return any(hmac.compare_digest(self._token(k, transport, reference).encode(), given) for k in self._keys)
