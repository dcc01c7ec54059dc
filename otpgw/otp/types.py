"""What the code service takes and returns: typed values, no wire format.

The web schemas load requests into these and dump results from them; times are epoch
milliseconds here and become RFC 3339 strings only in the schemas.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.outcomes import CodeStatus, VerifyOutcome
from ..domain.phones import Phone
from ..domain.records import CodeRecord


@dataclass(frozen=True)
class SendRequest:
    phone: str
    user_ref: str | None = None
    client_ip: str | None = None
    locale: str | None = None
    code_length: int | None = None
    ttl: int | None = None
    webotp_domain: str | None = None  # login-flow formats: the request's, else the client's
    app_hash: str | None = None


@dataclass(frozen=True)
class VerifyRequest:
    code: str
    id: str | None = None
    phone: str | None = None
    user_ref: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True)
class SendResult:
    code_id: str
    status: CodeStatus
    expires_ms: int
    resend_after_ms: int
    phone: Phone  # for audit logs (masked there), never returned to the caller
    replayed: bool = False  # the first answer to an earlier send under the same Idempotency-Key


@dataclass(frozen=True)
class VerifyResult:
    """A verify that the API answers with 200: approved, or a wrong code with attempts left."""

    valid: bool
    code_id: str
    status: CodeStatus
    reason: VerifyOutcome
    attempts_left: int | None = None


@dataclass(frozen=True)
class CancelResult:
    code_id: str
    status: CodeStatus


@dataclass(frozen=True)
class StatusResult:
    record: CodeRecord
    status: CodeStatus  # the status now: a pending code past its expiry is expired
