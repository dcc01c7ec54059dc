"""Sealed message payloads: what the worker must read but Redis must not reveal.

The queued SMS holds the destination number and the text with the code in it. Both are
sealed with AES-256-GCM under a key derived from a secret key, so a Redis dump or a
replica shows neither, and a changed byte is detected. A sealed payload is
``<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>``: the kid (a fingerprint of the secret key,
also bound as associated data) says which key opens it, so a worker that lacks that key
knows it (``SealKeyUnknown``) and leaves the message for a worker that has it, instead
of failing it for good. The first signing key seals; every known key opens.

AES-GCM replaced Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp otpgw never used):
the same confidentiality and integrity for about a third of the CPU. A random 96-bit
nonce per message is safe far beyond any key's life here (2^32 messages per key).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .codes import key_id


class SealError(ValueError):
    """A payload is malformed or was changed: no key can open it."""


class SealKeyUnknown(SealError):
    """The payload was sealed under a key this process does not have (yet)."""


def _aead(secret: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"otpgw-seal\x00" + secret.encode()).digest())


class Sealer:
    def __init__(self, signing: tuple[str, ...], known: tuple[str, ...] | None = None):
        self._kid = key_id(signing[0])
        self._keys = {key_id(k): _aead(k) for k in (known or signing)}
        self._keys.setdefault(self._kid, _aead(signing[0]))

    def seal(self, payload: dict) -> str:
        nonce = os.urandom(12)
        data = json.dumps(payload, separators=(",", ":")).encode()
        sealed = self._keys[self._kid].encrypt(nonce, data, self._kid.encode())
        return f"{self._kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str | bytes) -> dict:
        text = token.decode() if isinstance(token, bytes) else token
        kid, dot, body = text.partition(".")
        if not dot:
            raise SealError("payload has no key id")
        if kid not in self._keys:
            raise SealKeyUnknown(f"payload sealed under key {kid}, which this process does not have")
        try:
            raw = base64.urlsafe_b64decode(body)
            return json.loads(self._keys[kid].decrypt(raw[:12], raw[12:], kid.encode()))
        except (InvalidTag, ValueError) as exc:
            raise SealError("payload cannot be opened: it was changed or is malformed") from exc
