"""Recovery codes: single-use fallbacks for a user who lost their authenticator or phone.

A set is ten codes (``OTPGW_RECOVERY_CODE_COUNT``) of ten characters from ``secrets`` in
an alphabet without look-alikes (no 0/o, 1/i/l, u), shown once as ``xxxxx-xxxxx``:
about 49 bits each, against an online guesser held back by the user_ref lockout. Redis
keeps only ``kid:HMAC-SHA256(key, user tag | code)`` per code, so a dump reveals no code
and a code is bound to its user. Input is taken with or without the dashes, with spaces,
in any case. Verifying spends a code atomically (one success among concurrent requests);
generating a new set revokes the old one in the same script.

Key rotation: a code's digest names the key that made it, and a check offers the digest
under every known key; a set made under a key that is later dropped stops working, so
regenerate sets before dropping a key (README, "Rotating keys").
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from ..config import Settings
from ..domain.codes import Tags, key_id
from ..domain.outcomes import FactorKind, FactorOutcome
from ..domain.totp import RecoveryCheck
from ..events.audit import audit
from ..store import FactorStore
from .factors import CheckResult, CodeRequest, answer
from .policy import Policy

ALPHABET = "23456789abcdefghjkmnpqrstvwxyz"
GROUP = 5


def new_code(length: int) -> str:
    """A fresh code, grouped by five with dashes for reading aloud and writing down."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "-".join(raw[i:i + GROUP] for i in range(0, length, GROUP))


def normalize(code: str) -> str:
    """What a user typed, as it was digested: no dashes or spaces, lower case."""
    return "".join(code.split()).replace("-", "").lower()


def digest(key: bytes, user_tag: str, code: str) -> str:
    message = "\x00".join(("otpgw-recovery", user_tag, normalize(code))).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RecoveryRequest:
    user_ref: str


@dataclass(frozen=True)
class RecoveryCodes:
    """A new set, shown once."""

    codes: tuple[str, ...]
    created_ms: int
    factor: FactorKind = FactorKind.RECOVERY


class RecoveryService:
    def __init__(self, settings: Settings, store: FactorStore, *, clock: Callable[[], float] = time.time):
        self.settings = settings.totp
        self.store = store
        self.clock = clock
        self.policy = Policy(settings)
        self.tags = Tags(settings.secrets.tagging_key)
        self._signing = (key_id(settings.secrets.keys[0]), settings.secrets.current_key)
        self._known = [(key_id(k), k.encode()) for k in settings.secrets.known]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def generate(self, request: RecoveryRequest, client: str) -> RecoveryCodes:
        user_tag = self.tags.user(client, request.user_ref)
        codes = tuple(new_code(self.settings.recovery_length) for _ in range(self.settings.recovery_count))
        kid, key = self._signing
        now = self.now_ms()
        self.store.replace_recovery(user_tag, [f"{kid}:{digest(key, user_tag, c)}" for c in codes], now)
        audit("factor.recovery.generate", client=client, user=user_tag, count=len(codes))
        return RecoveryCodes(codes, now)

    def verify(self, request: CodeRequest, client: str) -> CheckResult:
        user_tag = self.tags.user(client, request.user_ref)
        candidates = tuple(f"{kid}:{digest(key, user_tag, request.code)}" for kid, key in self._known)
        check = RecoveryCheck(user_tag, candidates, self.now_ms(), self.policy.verify_limits(),
                              self.tags.ip(self.policy.client_network(request.client_ip)))
        outcome = answer(self.store.verify_recovery(check), FactorKind.RECOVERY, event="factor.recovery.verify",
                         client=client, user_tag=user_tag)
        approved = outcome.outcome is FactorOutcome.APPROVED
        return CheckResult(approved, outcome.outcome, FactorKind.RECOVERY,
                           remaining=outcome.remaining if approved else None)
