"""Where a send's Idempotency-Key lives: one key per (client, Idempotency-Key) tag.

The send script reads and writes it in the same round trip as the send itself
(``send_code.lua``), so ten concurrent identical requests still send one SMS: the
first stores the answer, the other nine find it. The key holds the keyed digest of the
first request and its answer (id, expiry, resend time), never the request itself; the
caller's header value appears only as a keyed tag. It is not per phone: the same
Idempotency-Key with another phone must be seen, and refused.
"""
from __future__ import annotations

from .keys import NONE, KeySpace


def idempotency_key(keys: KeySpace, tag: str) -> str:
    """The key of one Idempotency-Key (a placeholder, never written, without one)."""
    return keys.key(f"i{tag or NONE}", "idem")


def client_day_key(keys: KeySpace, client: str, day: str) -> str:
    """An API client's send counter for one UTC day (its ``daily_limit``)."""
    return keys.key(f"cl{client}", f"day:{day}")
