"""Authenticator-app codes (RFC 6238) and the values the factor store takes and returns.

Pure: no I/O, the time is passed in. A TOTP code is HOTP (RFC 4226, computed by pyotp)
with the time step ``floor(unix time / period)`` as the counter.

Why the store sees digests and never codes: the secret is sealed in Redis and only the
service can open it, yet the decision (is it right? was this step used? lock?) must
happen inside one Lua script, where no HMAC exists. So the service computes, for each
step in the drift window, ``HMAC(key, tag | factor id | expected code)`` and the same
over the submitted code; the script compares them and accepts a matching step only if it
is newer than the last step accepted, recording it in the same breath (RFC 6238
section 5.2: a code is accepted at most once, even under concurrent requests). The
digests are compared within the call and never stored, so they use the signing key alone.

The provisioning URI follows Google's Key Uri Format, which Google Authenticator,
FreeOTP and Aegis read: ``otpauth://totp/Issuer:account?secret=...&issuer=Issuer`` with
the issuer both as label prefix and parameter, the base32 secret without padding, and
``algorithm``, ``digits`` and ``period`` only where they differ from SHA1, 6 and 30
(apps that ignore them then still compute the right codes for a default enrolment).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pyotp

from .outcomes import FactorOutcome, FactorStatus
from .records import VerifyLimits

SECRET_BYTES = 20  # 160 bits: the length RFC 4226 section 4 recommends, HMAC-SHA1's block output
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
DEFAULTS = ("SHA1", 6, 30)  # what an authenticator assumes when the URI does not say


@dataclass(frozen=True)
class TotpParams:
    """How an enrolment's codes are made; kept with the factor, so settings may change later."""

    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"

    def step(self, now_s: float) -> int:
        """The time step a moment falls in (RFC 6238: T = floor((now - T0) / X), T0 = 0)."""
        return int(now_s // self.period)

    def window(self, now_s: float, drift: int) -> range:
        """The steps accepted at ``now_s``: the current one and ``drift`` either side."""
        step = self.step(now_s)
        return range(max(0, step - drift), step + drift + 1)


def new_secret() -> bytes:
    """A fresh 160-bit secret from the OS CSPRNG."""
    return secrets.token_bytes(SECRET_BYTES)


def b32(secret: bytes) -> str:
    """The secret as authenticators take it: base32, upper case, no padding."""
    return base64.b32encode(secret).decode().rstrip("=")


def from_b32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8), casefold=True)


def code_at(secret: bytes, step: int, params: TotpParams) -> str:
    """The code of one time step."""
    otp = pyotp.OTP(b32(secret), digits=params.digits, digest=DIGESTS[params.algorithm])
    return otp.generate_otp(step)


def provisioning_uri(secret: bytes, account: str, issuer: str, params: TotpParams) -> str:
    """The ``otpauth://`` URI an authenticator enrols from (its QR code holds exactly this).

    Issuer and account are percent-encoded each on its own (a space is %20, never +) and
    joined by a literal colon; neither may contain a colon (the caller checked).
    """
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = {"secret": b32(secret), "issuer": issuer}
    algorithm, digits, period = DEFAULTS
    if params.algorithm != algorithm:
        query["algorithm"] = params.algorithm
    if params.digits != digits:
        query["digits"] = str(params.digits)
    if params.period != period:
        query["period"] = str(params.period)
    return f"otpauth://totp/{label}?{urlencode(query, quote_via=quote)}"


def code_digest(key: bytes, user_tag: str, factor_id: str, code: str) -> str:
    """What the check script compares: a keyed digest bound to one user and one enrolment."""
    message = "\x00".join(("otpgw-totp", user_tag, factor_id, code)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# -- what the factor store takes and returns --------------------------------------------
@dataclass(frozen=True)
class NewTotp:
    """A pending enrolment as the store keeps it; the secret is sealed."""

    user_tag: str
    factor_id: str
    sealed: str
    params: TotpParams
    now_ms: int
    expires_ms: int  # the end of the pending enrolment unless activated
    replace: bool  # may it stand beside an active factor (to replace it on activation)?


@dataclass(frozen=True)
class TotpFactor:
    """A stored TOTP factor, pending or active; ``sealed`` is opened only by the service."""

    factor_id: str
    status: FactorStatus
    sealed: str
    params: TotpParams
    created_ms: int
    activated_ms: int | None = None
    last_used_ms: int | None = None
    expires_ms: int | None = None  # a pending enrolment's end


@dataclass(frozen=True)
class RecoverySet:
    """A user's recovery codes, counted; the codes themselves are only keyed digests."""

    created_ms: int
    total: int
    remaining: int
    last_used_ms: int | None = None


@dataclass(frozen=True)
class UserFactors:
    """Everything one user_ref holds, read in one round trip."""

    totp: TotpFactor | None
    pending: TotpFactor | None
    recovery: RecoverySet | None

    def __bool__(self) -> bool:
        return any((self.totp, self.pending, self.recovery))


@dataclass(frozen=True)
class TotpCheck:
    """One TOTP code to check: the expected digest of each step in the window, and the submitted one."""

    user_tag: str
    factor_id: str
    expected: tuple[tuple[int, str], ...]
    submitted: str
    now_ms: int
    limits: VerifyLimits
    ip_tag: str = ""
    resealed: str = ""  # the secret sealed under the current key, when it was sealed under an older one


@dataclass(frozen=True)
class RecoveryCheck:
    """One recovery code to check: its ``kid:digest`` under every key this process knows."""

    user_tag: str
    candidates: tuple[str, ...]
    now_ms: int
    limits: VerifyLimits
    ip_tag: str = ""


@dataclass(frozen=True)
class CheckOutcome:
    outcome: FactorOutcome
    retry_after_ms: int = 0
    limit: str = ""
    lock_started: bool = False
    remaining: int = 0  # recovery codes left after this check
