"""The states and outcomes every part of otpgw names: enums, never bare strings.

The values are the wire format (the API's ``status`` and ``reason``, the store's record
fields, metric labels, webhook events), so a value never changes once released. Views,
callbacks, webhooks and the Python client all match on these members.
"""
from __future__ import annotations

import enum


class CodeStatus(str, enum.Enum):
    """Where a one-time code is in its life: ``pending`` then one final state."""

    PENDING = "pending"
    APPROVED = "approved"
    EXPIRED = "expired"
    CANCELED = "canceled"
    MAX_ATTEMPTS = "max_attempts"


class DeliveryStatus(str, enum.Enum):
    """Where a message is on its way to the handset. It only ever moves forward:
    ``queued`` < ``sent`` < one of the three final states (see ``rank``)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return {"queued": 0, "sent": 1}.get(self.value, 2)

    @property
    def is_final(self) -> bool:
        return self.rank == 2


class Refusal(str, enum.Enum):
    """Why a send was refused by a stateful rule (the stateless ones raise directly)."""

    OPTED_OUT = "opted_out"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"  # the Idempotency-Key came with another request


class VerifyOutcome(str, enum.Enum):
    """What a verify attempt came to; the API's ``reason`` is this value."""

    APPROVED = "approved"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    EXPIRED = "expired"
    MAX_ATTEMPTS = "max_attempts"
    ALREADY_USED = "already_used"
    CANCELED = "canceled"
    KEY_UNKNOWN = "key_unknown"  # made under a secret key this process does not have (yet)


class Lane(str, enum.Enum):
    """Delivery lanes, read in this order: a code never waits behind bulk traffic."""

    OTP = "otp"
    BULK = "bulk"


class RecordKind(str, enum.Enum):
    """What a queued message's reference names: a one-time code's record, or a message of a
    batch (``/messages``), whose record lives with its batch."""

    CODE = "code"
    MESSAGE = "message"


class MessageStatus(str, enum.Enum):
    """Where a message of ``/messages`` is. ``scheduled`` and ``queued`` wait (``scheduled``
    until its ``send_at``); then the delivery statuses, which only move forward; or
    ``canceled`` (its batch was canceled before it left)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def waiting(self) -> bool:
        return self in (MessageStatus.SCHEDULED, MessageStatus.QUEUED)


class BatchStatus(str, enum.Enum):
    """A batch: ``scheduled`` until its ``send_at``, ``sending`` while messages wait,
    ``completed`` once none waits (each sent, failed or canceled), or ``canceled``."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    COMPLETED = "completed"
    CANCELED = "canceled"


class FactorKind(str, enum.Enum):
    """The factors beside SMS codes that a user_ref can hold (``/factors`` names them so)."""

    TOTP = "totp"
    RECOVERY = "recovery"


class FactorStatus(str, enum.Enum):
    """A TOTP factor is ``pending`` from enrolment until a correct code activates it."""

    PENDING = "pending"
    ACTIVE = "active"


class FactorOutcome(str, enum.Enum):
    """What a TOTP or recovery-code check came to; the API's ``reason`` is this value.

    ``changed`` never reaches a caller: the factor was replaced or removed between
    reading its secret and the check, and the service checks again.
    """

    APPROVED = "approved"
    INVALID = "invalid"
    ALREADY_USED = "already_used"  # a TOTP step already accepted (RFC 6238 5.2), a spent recovery code
    NOT_FOUND = "not_found"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    CHANGED = "changed"
