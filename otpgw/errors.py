"""One exception tree for every outcome that is not the view's single success.

Each class carries its HTTP status and error code, so the one JSON handler in
``create_app`` renders the envelope of DESIGN.md and no view decides a status:
``{"error": {"code", "message", "details"}}``, with ``Retry-After`` on 423 and 429.
"""
from __future__ import annotations

import math
from typing import Any


class OtpgwError(Exception):
    """Base of every error the API may answer with."""

    status = 500
    code = "internal"

    def __init__(self, message: str = "", *, details: dict[str, Any] | None = None, code: str | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = dict(details or {})
        if code:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidRequest(OtpgwError):
    """The request is malformed."""

    status, code = 400, "invalid_request"


class InvalidPhone(OtpgwError):
    """The phone number is not usable."""

    status, code = 400, "invalid_phone"


class Unauthorized(OtpgwError):
    """A valid API key is required (Authorization: Bearer <key>)."""

    status, code = 401, "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="otpgw"'}


class Forbidden(OtpgwError):
    """The request could not be authenticated for what it asks."""

    status, code = 403, "forbidden"


class CountryNotAllowed(OtpgwError):
    """Sending to this country is not allowed."""

    status, code = 403, "country_not_allowed"


class OptedOut(OtpgwError):
    """This phone number has opted out of messages."""

    status, code = 403, "opted_out"


class NotFound(OtpgwError):
    """No such code."""

    status, code = 404, "not_found"


class MethodNotAllowed(OtpgwError):
    """This method is not allowed on this path."""

    status, code = 405, "method_not_allowed"


class Conflict(OtpgwError):
    """The request conflicts with what is stored; ``code`` names how (``factor_exists``)."""

    status, code = 409, "conflict"


class Gone(OtpgwError):
    """The code can no longer be verified; ``code`` names why."""

    status, code = 410, "expired"


class IdempotencyMismatch(OtpgwError):
    """This Idempotency-Key was used with a different request; use a new key for a new request."""

    status, code = 422, "idempotency_mismatch"


class RequestTimeout(OtpgwError):
    """The request body did not arrive in time."""

    status, code = 408, "request_timeout"


class PayloadTooLarge(OtpgwError):
    """The request body is too large."""

    status, code = 413, "payload_too_large"


class UnsupportedMediaType(OtpgwError):
    """The request body must be JSON (Content-Type: application/json)."""

    status, code = 415, "unsupported_media_type"


class _RetryLater(OtpgwError):
    def __init__(self, message: str = "", *, retry_after_ms: int, details: dict[str, Any] | None = None):
        self.retry_after = max(1, math.ceil(retry_after_ms / 1000))
        super().__init__(message, details={**(details or {}), "retry_after": self.retry_after})

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Locked(_RetryLater):
    """Too many failed verifications: this phone or user is locked for a while."""

    status, code = 423, "locked"


class RateLimited(_RetryLater):
    """Too many requests; ``details.limit`` names the limit."""

    status, code = 429, "rate_limited"


class Unavailable(OtpgwError):
    """The service cannot serve this request right now."""

    status, code = 503, "unavailable"


class KeyUnavailable(Unavailable):
    """This code was issued under a secret key this server does not have yet (a rolling
    key rotation is under way); nothing was counted. Retry in a moment."""

    def __init__(self, message: str = "", *, details: dict[str, Any] | None = None):
        super().__init__(message, details=details)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class StoreUnavailable(Unavailable):
    """Redis did not answer; raised by the store, never a success. ``outcome`` says whether
    the operation certainly did not happen (``not_applied``) or may have (``unknown``)."""

    MESSAGES = {
        "not_applied": "The service cannot reach its store right now; nothing was sent or approved.",
        "unknown": "The store did not answer in time: the request may or may not have taken effect.",
    }

    def __init__(self, outcome: str = "not_applied"):
        super().__init__(self.MESSAGES[outcome], details={"outcome": outcome})
        self.outcome = outcome


class StoreError(OtpgwError):
    """Redis answered with an error (a script or type error): a bug, logged where it
    happened with its full message; the caller sees only an internal error."""

    status, code = 500, "internal"

    def __init__(self, detail: str = ""):
        super().__init__("internal error")
        self.detail = detail
