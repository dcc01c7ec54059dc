"""FactorStore: a user_ref's TOTP factor and recovery codes, and the checks against them.

Every check and its update is one script (``totp_*.lua``, ``recovery_*.lua``), so a
time step or a recovery code is accepted once however many workers race, and failures
count toward the same user_ref lockout keys as SMS codes (``KeySpace.user``). Reads of
several keys go in one MULTI round trip. Factor records are durable state, like a user
table: they carry no TTL (a pending enrolment does) and leave only by DELETE.
"""
from __future__ import annotations

from typing import Any

from ..domain.outcomes import FactorKind, FactorOutcome, FactorStatus
from ..domain.records import VerifyLimits
from ..domain.totp import (
    CheckOutcome,
    NewTotp,
    RecoveryCheck,
    RecoverySet,
    TotpCheck,
    TotpFactor,
    TotpParams,
    UserFactors,
)
from .errors import guard
from .keys import KeySpace
from .scripts import Scripts

PENDING = "totp:pending"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FactorStore:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts):
        self.client = client
        self.keys = keys
        self.scripts = scripts

    # -- TOTP ---------------------------------------------------------------------------
    @guard
    def enroll(self, new: NewTotp) -> bool:
        """Store a pending enrolment; False when an active factor stands and ``replace`` is off."""
        keys = dict(pending=self.keys.factor(new.user_tag, PENDING), active=self.keys.factor(new.user_tag, "totp"))
        p = new.params
        args = dict(now=new.now_ms, id=new.factor_id, sealed=new.sealed, digits=p.digits, period=p.period,
                    algorithm=p.algorithm, expires=new.expires_ms, replace=new.replace)
        return _text(self.scripts.totp_enroll(keys=keys, args=args)) == "ok"

    @guard
    def totp(self, user_tag: str, status: FactorStatus) -> TotpFactor | None:
        """The active factor or the pending enrolment: the read that precedes a check."""
        kind = "totp" if status is FactorStatus.ACTIVE else PENDING
        return _totp(self.client.hgetall(self.keys.factor(user_tag, kind)))

    @guard
    def activate(self, check: TotpCheck) -> CheckOutcome:
        k, tag = self.keys, check.user_tag
        keys = dict(pending=k.factor(tag, PENDING), active=k.factor(tag, "totp"), **_lockout(k, tag))
        args = dict(now=check.now_ms, id=check.factor_id, expected=_expected(check), submitted=check.submitted,
                    **_limits(check.limits))
        return _outcome(self.scripts.totp_activate(keys=keys, args=args))

    @guard
    def verify_totp(self, check: TotpCheck) -> CheckOutcome:
        k, tag = self.keys, check.user_tag
        keys = dict(factor=k.factor(tag, "totp"), ip_verifies=k.client_ip(check.ip_tag, "verify"), **_lockout(k, tag))
        args = dict(now=check.now_ms, id=check.factor_id, expected=_expected(check), submitted=check.submitted,
                    resealed=check.resealed, **_limits(check.limits), **_ip(check.limits, check.ip_tag))
        return _outcome(self.scripts.totp_verify(keys=keys, args=args))

    # -- recovery codes -----------------------------------------------------------------
    @guard
    def replace_recovery(self, user_tag: str, digests: list[str], now_ms: int) -> int:
        keys = dict(recovery=self.keys.factor(user_tag, "recovery"))
        return int(self.scripts.recovery_generate(keys=keys, args=dict(now=now_ms, digests=",".join(digests))))

    @guard
    def verify_recovery(self, check: RecoveryCheck) -> CheckOutcome:
        k, tag = self.keys, check.user_tag
        keys = dict(recovery=k.factor(tag, "recovery"), ip_verifies=k.client_ip(check.ip_tag, "verify"),
                    **_lockout(k, tag))
        args = dict(now=check.now_ms, candidates=",".join(check.candidates), **_limits(check.limits),
                    **_ip(check.limits, check.ip_tag))
        return _outcome(self.scripts.recovery_verify(keys=keys, args=args))

    # -- management ---------------------------------------------------------------------
    @guard
    def factors(self, user_tag: str) -> UserFactors:
        """The active factor, a pending enrolment and the recovery set."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hgetall(self.keys.factor(user_tag, "totp"))
        pipe.hgetall(self.keys.factor(user_tag, PENDING))
        pipe.hmget(self.keys.factor(user_tag, "recovery"), "created_at", "total", "remaining", "last_used_at")
        active, pending, recovery = pipe.execute()
        return UserFactors(_totp(active), _totp(pending), _recovery(recovery))

    @guard
    def delete(self, user_tag: str, kind: FactorKind) -> bool:
        """Remove a factor (TOTP: the active one and any pending enrolment); False if there was none."""
        names = ("totp", PENDING) if kind is FactorKind.TOTP else ("recovery",)
        return bool(self.client.delete(*[self.keys.factor(user_tag, name) for name in names]))


def _lockout(k: KeySpace, tag: str) -> dict[str, str]:
    return dict(user_lock=k.user(tag, "lock"), user_fails=k.user(tag, "fails"), user_level=k.user(tag, "level"))


def _limits(limits: VerifyLimits) -> dict[str, int]:
    return dict(threshold=limits.lockout_threshold, window=limits.lockout_window_ms, base=limits.lockout_base_ms,
                longest=limits.lockout_max_ms, memory=limits.level_memory_ms)


def _ip(limits: VerifyLimits, ip_tag: str) -> dict[str, int]:
    return dict(ip_window=limits.ip_window_ms, ip_max=limits.ip_max if ip_tag else 0)


def _expected(check: TotpCheck) -> str:
    return ",".join(f"{step}:{digest}" for step, digest in check.expected)


def _outcome(reply: list) -> CheckOutcome:
    outcome, retry_ms, limit, started = reply[:4]
    remaining = int(reply[4]) if len(reply) > 4 else 0
    return CheckOutcome(FactorOutcome(_text(outcome)), int(retry_ms), _text(limit), bool(started), remaining)


def _totp(raw: dict) -> TotpFactor | None:
    if not raw:
        return None
    f = {_text(k): _text(v) for k, v in raw.items()}
    times = {name: int(f[field]) if field in f else None for name, field in
             (("activated_ms", "activated_at"), ("last_used_ms", "last_used_at"), ("expires_ms", "expires_at"))}
    params = TotpParams(int(f["digits"]), int(f["period"]), f["algorithm"])
    return TotpFactor(f["id"], FactorStatus(f["status"]), f["secret"], params, int(f["created_at"]), **times)


def _recovery(values: list) -> RecoverySet | None:
    created, total, remaining, last_used = values
    if created is None:
        return None
    return RecoverySet(int(created), int(total), int(remaining), int(last_used) if last_used is not None else None)
