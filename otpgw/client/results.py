"""What the client returns: plain dataclasses with parsed times."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class SentCode:
    id: str
    status: str
    expires_at: dt.datetime
    resend_after: dt.datetime
    replayed: bool = False  # the first answer to an earlier send with the same idempotency key


@dataclass(frozen=True)
class Verification:
    """A verify the service answered 200: approved, or a wrong code with attempts left."""

    valid: bool
    id: str
    status: str
    reason: str
    attempts_left: int | None = None


@dataclass(frozen=True)
class CodeInfo:
    id: str
    status: str
    attempts: int
    created_at: dt.datetime
    expires_at: dt.datetime
    delivery: dict[str, Any] = field(default_factory=dict)
