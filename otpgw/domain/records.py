"""The values the code store takes and returns: identities as tags, limits as numbers.

The service builds them (policy decides the limits, per deployment today and per API
client later); the store turns each into one script call and back. Nothing here holds
a phone number, a user_ref, an IP or a code: only keyed tags and the code's digest.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .outcomes import CodeStatus, DeliveryStatus, Lane, Refusal, VerifyOutcome

DAY_MS = 86400 * 1000


@dataclass(frozen=True)
class SendLimits:
    """Every limit a send is checked against, in milliseconds and counts (0: off)."""

    cooldown_ms: int
    window_ms: int
    window_max: int
    ip_window_ms: int
    ip_max: int
    country_cap: int
    prefix_cap: int
    retention_ms: int  # how long the record outlives the code
    lockout_per_client: bool = True  # a client's failures lock the phone for that client only
    client_cap: int = 0  # the API client's sends per UTC day (0: none)


@dataclass(frozen=True)
class NewCode:
    """Everything the send script stores and queues; the message is sealed."""

    code_id: str
    phone_tag: str
    digest: str
    country: str
    client: str
    transport: str  # the transport the route names first (the worker decides for real)
    sealed: str
    now_ms: int
    ttl_ms: int
    locale: str
    limits: SendLimits
    user_tag: str = ""
    ip_tag: str = ""
    prefix: str = ""  # the configured number prefix this phone falls under, if any
    lane: Lane = Lane.OTP
    idempotency_tag: str = ""  # keyed tag of (client, Idempotency-Key); '' without one
    request_digest: str = ""  # keyed digest of the request under that key
    idempotency_ttl_ms: int = 0
    hook: bool = False  # the client has a webhook: the code's events go to the outbox

    @property
    def day(self) -> str:
        """The UTC day of the send (YYYY-MM-DD): daily caps count per UTC day."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.now_ms // 1000))

    @property
    def ms_to_day_end(self) -> int:
        return DAY_MS - self.now_ms % DAY_MS

    @property
    def expires_ms(self) -> int:
        return self.now_ms + self.ttl_ms


@dataclass(frozen=True)
class SendOutcome:
    """``refusal`` is None when the code was issued, or when this is a repeat of an
    earlier send under the same Idempotency-Key (``replayed``: the first answer's id
    and times)."""

    refusal: Refusal | None
    retry_after_ms: int
    limit: str
    replayed: bool = False
    code_id: str = ""
    expires_ms: int = 0
    resend_after_ms: int = 0


@dataclass(frozen=True)
class VerifyLimits:
    max_attempts: int
    lockout_threshold: int
    lockout_window_ms: int
    lockout_base_ms: int
    lockout_max_ms: int
    ip_window_ms: int
    ip_max: int
    lockout_per_client: bool = True

    @property
    def level_memory_ms(self) -> int:
        """How long a lockout level is remembered: the longest lock plus one window."""
        return self.lockout_max_ms + self.lockout_window_ms


@dataclass(frozen=True)
class Attempt:
    phone_tag: str
    code_id: str  # '' means the phone's newest code
    candidates: list[str]
    client: str
    now_ms: int
    limits: VerifyLimits
    user_tag: str = ""
    ip_tag: str = ""


@dataclass(frozen=True)
class AttemptOutcome:
    outcome: VerifyOutcome
    code_id: str
    attempts_left: int
    retry_after_ms: int
    limit: str
    lock_started: bool = False


@dataclass(frozen=True)
class Delivery:
    """A code's delivery as its record holds it."""

    status: DeliveryStatus
    transport: str
    updated_ms: int
    carrier_ids: tuple[str, ...] = ()
    detail: str = ""
    parts: int = 0
    error_code: str = ""


@dataclass(frozen=True)
class CodeRecord:
    """A code's record (never its digest), kept for the retention period after it ends."""

    code_id: str
    status: CodeStatus
    client: str
    attempts: int
    created_ms: int
    expires_ms: int
    delivery: Delivery

    def status_at(self, now_ms: int) -> CodeStatus:
        """A pending code past its expiry is expired even before anyone touched it."""
        if self.status is CodeStatus.PENDING and now_ms >= self.expires_ms:
            return CodeStatus.EXPIRED
        return self.status
