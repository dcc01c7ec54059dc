"""One-time codes, ids and their digests: pure functions, no I/O.

A code is never stored. Redis holds only ``HMAC-SHA256(key, "otpgw-code" | tag | client | code)``
under the code's own id, where ``tag`` is the phone's keyed tag and ``client`` the API
client that asked for the code. The id carries the tag
in its first 16 characters, so both ``verify`` by id and ``verify`` by phone can compute
every candidate digest before the single Redis round trip, and the comparison then runs
inside the verify script. The id binds the digest by location (it is only ever compared
for its own id); a new send for a phone by the same client deletes that client's previous
digest, so two digests of one phone and client never coexist, and the client in the MAC
keeps equal codes of different clients from showing equal digests in a dump.

Key rotation: a digest is stored with the id of the key that made it (``kid:hex``, the
kid a fingerprint of the key, never the key). New codes use the first signing key; a
verify computes one candidate per key this process knows, and the verify script compares
only the candidate of the stored kid. A code made under a key this process does not know
(a newer process in a rolling restart) is answered "try again" without spending an
attempt, instead of "invalid". Identity tags use one key that stays fixed across a
rotation (``Tags``), so counters and lockouts survive it.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

TAG_LENGTH = 16
ID_LENGTH = 32
_ALPHABET = set("abcdefghijklmnopqrstuvwxyz234567")


def generate_code(length: int) -> str:
    """A uniformly random decimal code of ``length`` digits from the OS CSPRNG."""
    return f"{secrets.randbelow(10**length):0{length}d}"


_PAIRS = [a + b for a in "abcdefghijklmnopqrstuvwxyz234567" for b in "abcdefghijklmnopqrstuvwxyz234567"]


def _b32(data: bytes) -> str:
    """Lower-case base32 without padding, as ``base64.b32encode`` spells it; 10 bytes (every
    tag and id half) go ten bits at a time through a table, at a third of the cost."""
    if len(data) != 10:
        return base64.b32encode(data).decode().rstrip("=").lower()
    n = int.from_bytes(data, "big")
    return "".join([_PAIRS[(n >> shift) & 1023] for shift in (70, 60, 50, 40, 30, 20, 10, 0)])


@functools.lru_cache(maxsize=64)
def _keyed(key: bytes) -> "hmac.HMAC":
    """An HMAC-SHA256 with ``key`` already absorbed; each MAC copies it instead of redoing the key schedule."""
    return hmac.new(key, digestmod=hashlib.sha256)


def _mac(key: bytes, *parts: str) -> bytes:
    mac = _keyed(key).copy()
    mac.update("\x00".join(parts).encode())
    return mac.digest()


def identity_tag(key: bytes, kind: str, value: str) -> str:
    """A keyed 80-bit tag standing in for a phone, user_ref or IP inside Redis keys."""
    return _b32(_mac(key, "otpgw-tag", kind, value)[:10])


def new_id(phone_tag: str) -> str:
    """A fresh code id: the phone tag followed by 80 random bits."""
    return phone_tag + _b32(secrets.token_bytes(10))


def is_valid_id(value: str) -> bool:
    return len(value) == ID_LENGTH and set(value) <= _ALPHABET


def tag_of(code_id: str) -> str:
    """The phone tag an id was issued for (the caller checked ``is_valid_id``)."""
    return code_id[:TAG_LENGTH]


def code_digest(key: bytes, phone_tag: str, client: str, code: str) -> str:
    return _mac(key, "otpgw-code", phone_tag, client, code).hex()


def key_id(secret: str) -> str:
    """A short public fingerprint of a secret key (8 hex characters), stored beside what it made."""
    return hashlib.sha256(b"otpgw-kid\x00" + secret.encode()).hexdigest()[:8]


class CodeKeys:
    """The keys that make and check code digests: the first signs, all check."""

    def __init__(self, signing: tuple[str, ...], known: tuple[str, ...]):
        self._signing = (key_id(signing[0]), signing[0].encode())
        self._known = [(key_id(k), k.encode()) for k in known]

    def digest(self, phone_tag: str, client: str, code: str) -> str:
        """``kid:hex`` of a new code, under the signing key."""
        kid, key = self._signing
        return f"{kid}:{code_digest(key, phone_tag, client, code)}"

    def candidates(self, phone_tag: str, client: str, code: str) -> list[str]:
        """``kid:hex`` of a submitted code under every known key."""
        return [f"{kid}:{code_digest(key, phone_tag, client, code)}" for kid, key in self._known]


class Tags:
    """Keyed tags of every identity otpgw keeps in Redis keys, under one fixed key.

    The tag key (``OTPGW_TAG_KEY``, by default the last of the secret keys) must be the
    same in every process: a phone's counters, lockouts and codes live under its tag.
    """

    def __init__(self, tag_key: str):
        self._key = tag_key.encode()

    def phone(self, e164: str) -> str:
        return identity_tag(self._key, "phone", e164)

    def user(self, client: str, user_ref: str | None) -> str:
        """user_ref namespaces belong to each calling client; '' when none is given."""
        return identity_tag(self._key, "user", f"{client}\x00{user_ref}") if user_ref else ""

    def ip(self, address: str | None) -> str:
        return identity_tag(self._key, "ip", address) if address else ""

    def opaque(self, kind: str, value: str) -> str:
        """A tag for any other value that may name someone (a carrier's key with a number)."""
        return identity_tag(self._key, kind, value)
