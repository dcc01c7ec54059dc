"""otpgw.client: a small synchronous Python client of otpgw's HTTP API.

    from otpgw.client import Otpgw, errors

    with Otpgw("https://otp.internal", api_key) as otp:
        sent = otp.send("+14155552671", user_ref="alice")
        try:
            otp.verify(typed_code, id=sent.id, user_ref="alice")
        except errors.Gone as exc:   # expired, max_attempts, already_used, canceled
            ...

It depends on httpx alone and imports nothing else of otpgw (an import contract keeps
it so), so it can be vendored into any backend. ``verify_webhook`` checks the signature
of otpgw's webhooks.
"""
from __future__ import annotations

from . import errors
from .api import Otpgw
from .errors import OtpgwError
from .results import CodeInfo, SentCode, Verification
from .webhooks import SIGNATURE_HEADER, WebhookSignatureError, verify_webhook

__all__ = ["SIGNATURE_HEADER", "CodeInfo", "Otpgw", "OtpgwError", "SentCode", "Verification",
           "WebhookSignatureError", "errors", "verify_webhook"]
