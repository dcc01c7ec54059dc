"""Check an otpgw webhook before trusting it.

``Otpgw-Signature: t=<unix seconds>,v1=<hex>`` where the hex is HMAC-SHA256 under your
webhook secret of ``"<t>."`` followed by the raw request body. Verify the raw bytes as
received (before any JSON parsing), and de-duplicate by the event's ``id``: an event may
arrive more than once.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from .errors import OtpgwError

SIGNATURE_HEADER = "Otpgw-Signature"


class WebhookSignatureError(OtpgwError):
    """The webhook's signature is missing, malformed, too old or wrong: do not trust it."""


def verify_webhook(body: bytes, signature: str | None, secret: str, *, tolerance: int = 300,
                   now: float | None = None) -> dict[str, Any]:
    """The event, if ``signature`` (the header's value) signs ``body`` under ``secret``
    within ``tolerance`` seconds; else WebhookSignatureError."""
    parts = dict(p.strip().split("=", 1) for p in (signature or "").split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not given:
        raise WebhookSignatureError("the Otpgw-Signature header is missing or malformed")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise WebhookSignatureError("the webhook's timestamp is too old (or in the future)")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise WebhookSignatureError("the webhook's signature does not match")
    return json.loads(body)
