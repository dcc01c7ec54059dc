"""What a carrier's refusal means for the next attempt: one rule for every HTTP profile.

The rule, by who is at fault (a profile may name its own codes as one or the other):

- the carrier asks us to slow down (HTTP 429, a throttling code): ``ThrottledError`` with
  the pause it named (``Retry-After``: seconds or an HTTP date), which pauses the
  transport for every worker;
- the carrier is down (5xx): ``TemporaryTransportError``;
- the carrier side is misconfigured (credentials refused 401/403, no credit 402, wrong
  account or URL 404, a proxy 407, a redirect): ``TransportRefusedError``, so
  the worker fails over: a carrier we cannot use must not fail a message another
  carrier could deliver;
- anything else the carrier refused (4xx: an invalid number, rejected content):
  ``PermanentTransportError``, retrying cannot help.

The carrier's own error code goes into ``.code`` and its reason, shortened, into the
message (the delivery record shows it; digit runs are redacted when stored).
"""
from __future__ import annotations

import email.utils
import json
from typing import Any

from ..base import (
    OutcomeUnknownError,
    PermanentTransportError,
    TemporaryTransportError,
    ThrottledError,
    TransportError,
    TransportRefusedError,
)
from .client import Reply

REASON_MAX = 120
CARRIER_SIDE_STATUS = frozenset({401, 402, 403, 404, 407})


def retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds named by a ``Retry-After`` header (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now_s)


def shorten(reason: Any) -> str:
    text = " ".join(str(reason or "").split())
    return text if len(text) <= REASON_MAX else text[:REASON_MAX - 1] + "…"


def refusal(name: str, reply: Reply, now_s: float, *, code: str = "", reason: str = "") -> TransportError:
    """The error for a non-2xx answer, by its HTTP status alone (see the module rule)."""
    what = f"{name}: carrier answered HTTP {reply.status}" + (f" ({shorten(reason)})" if reason else "")
    if reply.status == 429:
        return ThrottledError(what, retry_after=retry_after(reply.headers.get("retry-after"), now_s), code=code)
    if reply.status >= 500:
        return TemporaryTransportError(what, code=code)
    if reply.status in CARRIER_SIDE_STATUS or reply.status < 400:
        return TransportRefusedError(what, code=code)
    return PermanentTransportError(what, code=code)


def json_body(name: str, reply: Reply) -> Any:
    """The JSON of a 2xx answer. A 2xx we cannot read may still mean the carrier took the
    message, so it raises OutcomeUnknownError rather than a plain failure."""
    try:
        return reply.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutcomeUnknownError(f"{name}: carrier answered HTTP {reply.status} with a body that is not JSON; "
                                  "it may have accepted the message") from exc


def error_json(reply: Reply) -> dict:
    """The JSON object of an error answer, or {} (error pages are often HTML)."""
    try:
        body = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def malformed(name: str, what: str) -> OutcomeUnknownError:
    return OutcomeUnknownError(f"{name}: carrier accepted the request but {what}; it may have taken the message")
