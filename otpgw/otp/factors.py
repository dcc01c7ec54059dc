"""The factors beside SMS codes: what every check answers, and the management of a user's factors.

A user_ref's factors are found by its keyed tag, which includes the API client, so one
client never reaches another's users: they are simply not there (404). A user_ref
without any factor is not known to otpgw either, so listing it is a 404 too.

``answer`` is the one place a check's outcome becomes the API's answer, for TOTP and
recovery codes alike, in the shape of ``/otp/verify``: 200 with ``valid`` and ``reason``
while the factor can still be used, an error (404, 423, 429) otherwise.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ..config import Settings
from ..domain.codes import Tags
from ..domain.outcomes import FactorKind, FactorOutcome, FactorStatus
from ..domain.totp import CheckOutcome, UserFactors
from ..errors import Conflict, Locked, NotFound, RateLimited
from ..events import metrics
from ..events.audit import audit
from ..store import FactorStore


@dataclass(frozen=True)
class CodeRequest:
    """A code to check for a user_ref (TOTP activation or verify, a recovery code)."""

    user_ref: str
    code: str
    client_ip: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A check the API answers with 200: approved, or a code that is wrong or already used."""

    valid: bool
    reason: FactorOutcome
    factor: FactorKind
    status: FactorStatus | None = None  # shown by activation: is the factor active now?
    remaining: int | None = None  # recovery codes left, after an approval


@dataclass(frozen=True)
class FactorInfo:
    """One factor as ``GET /factors`` shows it: never a secret, a code or a digest."""

    type: FactorKind
    status: FactorStatus
    created_ms: int
    activated_ms: int | None = None
    last_used_ms: int | None = None
    expires_ms: int | None = None
    remaining: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class FactorList:
    user_ref: str
    factors: tuple[FactorInfo, ...]


@dataclass(frozen=True)
class Removal:
    user_ref: str
    factor: FactorKind
    status: str = "deleted"


def answer(outcome: CheckOutcome, kind: FactorKind, *, event: str, client: str, user_tag: str) -> CheckOutcome:
    """Audit and count a check, then raise the error it answers with, or return it for a 200."""
    o = outcome.outcome
    audit(event, client=client, user=user_tag, outcome=o.value, limit=outcome.limit)
    if outcome.lock_started:
        audit("factor.lockout", client=client, user=user_tag, limit=outcome.limit,
              retry_after_ms=outcome.retry_after_ms)
        metrics.count(metrics.LOCKOUTS, outcome.limit)
    elif o in (FactorOutcome.LOCKED, FactorOutcome.RATE_LIMITED):
        metrics.count(metrics.REFUSALS, outcome.limit)
    if o in (FactorOutcome.APPROVED, FactorOutcome.INVALID, FactorOutcome.ALREADY_USED):
        return outcome
    details = {"reason": o.value, "factor": kind.value}
    if o is FactorOutcome.NOT_FOUND:
        raise NotFound(f"this user_ref has no {_NAMES[kind]}", details=details)
    if o is FactorOutcome.LOCKED:
        raise Locked(retry_after_ms=outcome.retry_after_ms, details={**details, "limit": outcome.limit})
    if o is FactorOutcome.RATE_LIMITED:
        raise RateLimited(f"too many verifications ({outcome.limit})", retry_after_ms=outcome.retry_after_ms,
                          details={**details, "limit": outcome.limit})
    raise Conflict("the factor was replaced while the code was checked; check the code again", details=details)


_NAMES = {FactorKind.TOTP: "authenticator (TOTP) factor", FactorKind.RECOVERY: "recovery codes"}


class FactorService:
    """``GET /factors/<user_ref>`` and ``DELETE /factors/<user_ref>/<factor>``."""

    def __init__(self, settings: Settings, store: FactorStore, *, clock: Callable[[], float] = time.time):
        self.store = store
        self.tags = Tags(settings.secrets.tagging_key)
        self.clock = clock

    def list(self, user_ref: str, client: str) -> FactorList:
        found = self.store.factors(self.tags.user(client, user_ref))
        if not found:
            raise NotFound("this user_ref has no factors", details={"reason": "not_found"})
        return FactorList(user_ref, _infos(found))

    def delete(self, user_ref: str, kind: FactorKind, client: str) -> Removal:
        user_tag = self.tags.user(client, user_ref)
        if not self.store.delete(user_tag, kind):
            raise NotFound(f"this user_ref has no {_NAMES[kind]}", details={"reason": "not_found",
                                                                           "factor": kind.value})
        audit("factor.delete", client=client, user=user_tag, factor=kind.value)
        return Removal(user_ref, kind)


def _infos(found: UserFactors) -> tuple[FactorInfo, ...]:
    infos = [FactorInfo(FactorKind.TOTP, f.status, f.created_ms, f.activated_ms, f.last_used_ms, f.expires_ms)
             for f in (found.totp, found.pending) if f]
    if found.recovery:
        r = found.recovery
        infos.append(FactorInfo(FactorKind.RECOVERY, FactorStatus.ACTIVE, r.created_ms, last_used_ms=r.last_used_ms,
                                remaining=r.remaining, total=r.total))
    return tuple(infos)
