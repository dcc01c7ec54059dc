"""Sealed message payloads: what the worker must read but Redis must not reveal.

The queued SMS holds the destination number and the text with the code in it. Both are
sealed with Fernet (AES-128-CBC + HMAC-SHA256) under keys derived from the secret keys,
so a Redis dump or a replica shows neither. The first key seals; all keys open, which
keeps messages queued before a key rotation deliverable.
"""
from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealError(ValueError):
    """A payload could not be opened with any configured key."""


class Sealer:
    def __init__(self, secret_keys: tuple[str, ...]):
        self._fernet = MultiFernet([Fernet(self._derive(k)) for k in secret_keys])

    @staticmethod
    def _derive(secret: str) -> bytes:
        return base64.urlsafe_b64encode(hashlib.sha256(b"otpgw-seal\x00" + secret.encode()).digest())

    def seal(self, payload: dict) -> str:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def open(self, token: str | bytes) -> dict:
        try:
            return json.loads(self._fernet.decrypt(token))
        except (InvalidToken, ValueError) as exc:
            raise SealError("payload cannot be opened with the configured keys") from exc
