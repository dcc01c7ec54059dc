"""TotpService: enrol an authenticator app, activate it with its first code, verify its codes.

The secret (160 bits from ``secrets``) is sealed with AES-GCM under the first secret key
(``domain.sealing``: the key id travels with it, every known key opens it) together with
the user's tag and the factor's id, so a sealed secret moved to another user or factor
is refused. A secret sealed under an older key is re-sealed under the current one by the
next successful verify, so an old key can be dropped once its factors have been used.

Why a check is two round trips, not one: the script that decides must compare digests
of the expected codes (``domain.totp``), which only this process can compute, from a
secret only this process can open. So the service reads the factor first (a plain read
that decides nothing), then the one script checks, records the accepted step and counts
failures atomically. The script refuses with ``changed`` if the factor was replaced in
between, and the service reads and checks once more.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Callable

import segno

from ..config import Settings
from ..domain.codes import Tags, key_id
from ..domain.outcomes import FactorKind, FactorOutcome, FactorStatus
from ..domain.sealing import Sealer, SealKeyUnknown
from ..domain.totp import (
    NewTotp,
    TotpCheck,
    TotpFactor,
    TotpParams,
    b32,
    code_at,
    code_digest,
    from_b32,
    new_secret,
    provisioning_uri,
)
from ..errors import Conflict, KeyUnavailable, NotFound, OtpgwError
from ..events.audit import audit
from ..store import FactorStore
from .factors import CheckResult, CodeRequest, answer
from .policy import Policy

QR_FORMATS = ("svg", "png")
log = logging.getLogger("otpgw.factors")
_QR_SCALE = 5  # pixels (SVG units) per module; the four-module quiet zone is segno's default


def qr_code(uri: str, fmt: str) -> str:
    """The QR code of exactly ``uri`` as a data URI an ``<img src>`` takes (SVG or PNG)."""
    code = segno.make(uri, error="m", micro=False)
    return code.svg_data_uri(scale=_QR_SCALE) if fmt == "svg" else code.png_data_uri(scale=_QR_SCALE)


@dataclass(frozen=True)
class EnrollRequest:
    user_ref: str
    label: str | None = None  # the account name the authenticator shows; user_ref by default
    issuer: str | None = None
    replace: bool = False
    qr_format: str = "svg"


@dataclass(frozen=True)
class Enrollment:
    """Shown once, to be turned into a QR code on the user's screen; never stored in clear."""

    status: FactorStatus
    uri: str
    secret: str  # base32, for typing into an authenticator by hand
    qr_code: str
    expires_ms: int
    params: TotpParams
    factor: FactorKind = FactorKind.TOTP


class TotpService:
    def __init__(self, settings: Settings, store: FactorStore, *, clock: Callable[[], float] = time.time):
        self.settings = settings.totp
        self.store = store
        self.clock = clock
        self.policy = Policy(settings)
        self.tags = Tags(settings.secrets.tagging_key)
        self.sealer = Sealer(settings.secrets.keys, settings.secrets.known)
        self.kid = key_id(settings.secrets.keys[0])
        self.key = settings.secrets.current_key  # digests live for one call: the signing key alone
        self.params = TotpParams(self.settings.digits, self.settings.period, self.settings.algorithm)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- enrolment ----------------------------------------------------------------------
    def enroll(self, request: EnrollRequest, client: str) -> Enrollment:
        user_tag, factor_id, secret = self.tags.user(client, request.user_ref), secrets.token_hex(8), new_secret()
        now = self.now_ms()
        sealed = self.sealer.seal({"totp": b32(secret), "user": user_tag, "id": factor_id})
        expires = now + self.settings.enroll_ttl * 1000
        if not self.store.enroll(NewTotp(user_tag, factor_id, sealed, self.params, now, expires, request.replace)):
            raise Conflict("this user_ref already has an active authenticator; enrol with replace: true to "
                           "replace it once the new one is activated", code="factor_exists",
                           details={"factor": FactorKind.TOTP.value})
        uri = provisioning_uri(secret, request.label or request.user_ref, request.issuer or self.settings.issuer,
                               self.params)
        audit("factor.totp.enroll", client=client, user=user_tag, replace=request.replace)
        return Enrollment(FactorStatus.PENDING, uri, b32(secret), qr_code(uri, request.qr_format), expires,
                          self.params)

    def activate(self, request: CodeRequest, client: str) -> CheckResult:
        user_tag = self.tags.user(client, request.user_ref)
        outcome = self._checked(user_tag, FactorStatus.PENDING, request, self.store.activate)
        outcome = answer(outcome, FactorKind.TOTP, event="factor.totp.activate", client=client, user_tag=user_tag)
        approved = outcome.outcome is FactorOutcome.APPROVED
        return CheckResult(approved, outcome.outcome, FactorKind.TOTP,
                           FactorStatus.ACTIVE if approved else FactorStatus.PENDING)

    # -- verify -------------------------------------------------------------------------
    def verify(self, request: CodeRequest, client: str) -> CheckResult:
        user_tag = self.tags.user(client, request.user_ref)
        outcome = self._checked(user_tag, FactorStatus.ACTIVE, request, self.store.verify_totp)
        outcome = answer(outcome, FactorKind.TOTP, event="factor.totp.verify", client=client, user_tag=user_tag)
        return CheckResult(outcome.outcome is FactorOutcome.APPROVED, outcome.outcome, FactorKind.TOTP)

    def _checked(self, user_tag: str, status: FactorStatus, request: CodeRequest, decide):
        """Read the factor, let the script decide; once more if it was replaced in between."""
        for _ in range(2):
            factor = self.store.totp(user_tag, status)
            if factor is None:
                what = "an authenticator enrolment awaiting activation" if status is FactorStatus.PENDING \
                    else "an active authenticator (TOTP) factor"
                raise NotFound(f"this user_ref has no {what}",
                               details={"reason": FactorOutcome.NOT_FOUND.value, "factor": FactorKind.TOTP.value})
            outcome = decide(self._check(factor, user_tag, request))
            if outcome.outcome is not FactorOutcome.CHANGED:
                break
        return outcome

    def _check(self, factor: TotpFactor, user_tag: str, request: CodeRequest) -> TotpCheck:
        """The expected code's digest for each step in the drift window, and the submitted one's."""
        secret = self._open(factor, user_tag)
        now = self.now_ms()
        expected = tuple((step, self._digest(user_tag, factor, code_at(secret, step, factor.params)))
                         for step in factor.params.window(now / 1000, self.settings.drift))
        resealed = ""
        if factor.sealed.partition(".")[0] != self.kid:
            resealed = self.sealer.seal({"totp": b32(secret), "user": user_tag, "id": factor.factor_id})
        return TotpCheck(user_tag, factor.factor_id, expected, self._digest(user_tag, factor, request.code), now,
                         self.policy.verify_limits(), self.tags.ip(self.policy.client_network(request.client_ip)),
                         resealed)

    def _digest(self, user_tag: str, factor: TotpFactor, code: str) -> str:
        return code_digest(self.key, user_tag, factor.factor_id, code)

    def _open(self, factor: TotpFactor, user_tag: str) -> bytes:
        try:
            payload = self.sealer.open(factor.sealed)
        except SealKeyUnknown:  # sealed by a newer process mid-rotation; another one can open it
            raise KeyUnavailable(details={"factor": FactorKind.TOTP.value}) from None
        if payload.get("user") != user_tag or payload.get("id") != factor.factor_id:
            log.error("a sealed TOTP secret does not belong to the record it was found in (tampering?)")
            raise OtpgwError("internal error")
        return from_b32(payload["totp"])
