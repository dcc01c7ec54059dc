"""The errors the client raises: one class per error code of the API's envelope.

Every error carries the HTTP ``status``, the envelope's ``code``, ``message`` and
``details``, the ``retry_after`` seconds when the server gave them, and the
``request_id`` to quote in a support ticket.
"""
from __future__ import annotations

from typing import Any


class OtpgwError(Exception):
    """Base of everything the client raises."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", details: dict[str, Any] | None = None,
                 retry_after: float | None = None, request_id: str = ""):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code
        self.details = details or {}
        self.retry_after = retry_after
        self.request_id = request_id


class ConnectionFailed(OtpgwError):
    """The service could not be reached, or did not answer in time."""


class InvalidRequest(OtpgwError):
    """400: the request is malformed (``details`` names the fields)."""


class InvalidPhone(InvalidRequest):
    """400: the phone number is not usable (``details.reason``: landline, number_type...)."""


class Unauthorized(OtpgwError):
    """401: the API key is missing or unknown."""


class Forbidden(OtpgwError):
    """403."""


class CountryNotAllowed(Forbidden):
    """403: sending to this country is not allowed."""


class OptedOut(Forbidden):
    """403: the number has opted out of messages."""


class NotFound(OtpgwError):
    """404: no such code (or it belongs to another client)."""


class Gone(OtpgwError):
    """410: the code can no longer be verified; the subclass says why."""


class Expired(Gone):
    pass


class MaxAttempts(Gone):
    pass


class AlreadyUsed(Gone):
    pass


class Canceled(Gone):
    pass


class PayloadTooLarge(OtpgwError):
    """413."""


class IdempotencyMismatch(OtpgwError):
    """422: the Idempotency-Key was used with another request."""


class Locked(OtpgwError):
    """423: too many wrong codes; ``retry_after`` says for how long."""


class RateLimited(OtpgwError):
    """429: a limit was hit (``details.limit``); ``retry_after`` says when to try again."""


class Unavailable(OtpgwError):
    """503: the service cannot serve now; ``details.outcome`` says whether anything happened."""


BY_CODE: dict[str, type[OtpgwError]] = {
    "invalid_request": InvalidRequest, "invalid_phone": InvalidPhone, "unauthorized": Unauthorized,
    "forbidden": Forbidden, "country_not_allowed": CountryNotAllowed, "opted_out": OptedOut,
    "not_found": NotFound, "expired": Expired, "max_attempts": MaxAttempts, "already_used": AlreadyUsed,
    "canceled": Canceled, "payload_too_large": PayloadTooLarge, "idempotency_mismatch": IdempotencyMismatch,
    "locked": Locked, "rate_limited": RateLimited, "unavailable": Unavailable,
}
BY_STATUS: dict[int, type[OtpgwError]] = {400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
                                          410: Gone, 413: PayloadTooLarge, 422: IdempotencyMismatch, 423: Locked,
                                          429: RateLimited, 503: Unavailable}


def error_for(status: int, body: Any, retry_after: float | None, request_id: str) -> OtpgwError:
    """The typed error of an answer (the envelope's code decides; the status if there is none)."""
    envelope = body.get("error") if isinstance(body, dict) else None
    envelope = envelope if isinstance(envelope, dict) else {}
    code = str(envelope.get("code", ""))
    cls = BY_CODE.get(code) or BY_STATUS.get(status, OtpgwError)
    return cls(str(envelope.get("message") or f"HTTP {status}"), status=status, code=code,
               details=envelope.get("details") if isinstance(envelope.get("details"), dict) else {},
               retry_after=retry_after, request_id=request_id)
