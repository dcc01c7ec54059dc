"""ClientStore: API clients made by ``otpgw clients add``, kept in one Redis hash.

Each field is a client's name; its value a JSON record: the settings table (the same
keys as a ``[clients.<name>]`` table, checked by ``config.parse_client``), the SHA-256
hashes of its keys (each with its creation and, after a rotation with a grace period,
its expiry), the webhook secret *sealed* (AES-GCM under the secret keys: the dispatcher
must read it, so it cannot be hashed), and when it was created or revoked. No key and
no secret is ever stored in clear. The API reads the whole hash at once (``all``) into
an in-process snapshot; see ``otp.clients``.
"""
from __future__ import annotations

import json
from typing import Any

from .codes import text
from .errors import guard
from .keys import KeySpace


class ClientStore:
    def __init__(self, client: Any, keys: KeySpace):
        self.client = client
        self.key = keys.key("clients", "registry")

    @guard
    def all(self) -> dict[str, dict[str, Any]]:
        """Every stored client's record, by name (one HGETALL)."""
        return {text(name): json.loads(raw) for name, raw in self.client.hgetall(self.key).items()}

    @guard
    def get(self, name: str) -> dict[str, Any] | None:
        raw = self.client.hget(self.key, name)
        return json.loads(raw) if raw else None

    @guard
    def create(self, name: str, record: dict[str, Any]) -> bool:
        """Store a new client; False if the name is taken (also by a revoked client)."""
        return bool(self.client.hsetnx(self.key, name, json.dumps(record, sort_keys=True)))

    @guard
    def save(self, name: str, record: dict[str, Any]) -> None:
        self.client.hset(self.key, name, json.dumps(record, sort_keys=True))
