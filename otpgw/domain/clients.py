"""API clients' keys and public identifiers: pure functions, no I/O.

An API key is 32 random bytes, so a fast hash is enough to store it: SHA-256 of a
high-entropy secret cannot be reversed or brute-forced, and unlike a password it needs
no slow KDF. Only the hash is ever kept (in Redis or in memory); the key is shown once.

Twilio Verify compatible SIDs of a client (``VA…`` service, ``AC…`` account) are derived
from its name unless configured, so every client has them without extra setup; they
are identifiers, not secrets.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets

KEY_PREFIX = "otpgw_"
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SERVICE_SID = re.compile(r"VA[0-9a-f]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
API_KEY_SID = re.compile(r"SK[0-9a-f]{32}")
APP_HASH = re.compile(r"[A-Za-z0-9+/]{11}")


def new_api_key() -> str:
    """A fresh API key: a recognisable prefix (secret scanners find it) and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """The stored form of an API key: hex SHA-256."""
    return hashlib.sha256(b"otpgw-api-key\x00" + key.encode()).hexdigest()


def key_id(hashed: str) -> str:
    """A short public label of a key (the start of its hash): safe to list and log."""
    return hashed[:8]


def _derived(kind: str, name: str) -> str:
    return hashlib.sha256(f"otpgw-{kind}\x00{name}".encode()).hexdigest()[:32]


def service_sid_for(name: str) -> str:
    """The Twilio-style service SID a client has when none is configured."""
    return "VA" + _derived("service", name)


def account_sid_for(name: str) -> str:
    return "AC" + _derived("account", name)


def verification_sid(code_id: str) -> str:
    """A code id as a Twilio-style verification SID: ``VE`` + the id's 20 bytes in hex.

    Twilio's own SIDs hold 16 bytes (32 hex digits); an otpgw id is 160 bits (the phone's
    80-bit tag and 80 random bits), so the SID is 42 characters and maps back exactly.
    """
    raw = base64.b32decode(code_id.upper() + "=" * (-len(code_id) % 8))
    return "VE" + raw.hex()


def code_id_of(sid: str) -> str | None:
    """The code id inside a verification SID, or None if ``sid`` is not one."""
    if not re.fullmatch(r"VE[0-9a-f]{40}", sid):
        return None
    return base64.b32encode(bytes.fromhex(sid[2:])).decode().rstrip("=").lower()
