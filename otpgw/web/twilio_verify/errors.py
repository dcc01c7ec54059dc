"""otpgw's errors as Twilio's error bodies, so a Twilio SDK raises what its callers expect.

The body is Twilio's ``{"code", "message", "more_info", "status"}`` with otpgw's own
envelope beside it under ``error``, so both kinds of client read it. The mapping follows
what Twilio Verify answers for the same situation: 20404 when there is no pending
verification (unknown, expired, used, canceled or another client's), 60202 once the
checks are exhausted (also for otpgw's lockout), 60203 when sends are refused by a limit,
60200 for an invalid parameter, 20003 for failed authentication.
"""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import HTTPException

from ...errors import OtpgwError, Unauthorized
from ..errors import _render_http

MORE_INFO = "https://www.twilio.com/docs/errors/{}"
# otpgw error code -> (HTTP status, Twilio code, Twilio message); None keeps otpgw's status
_COMMON = {
    "unauthorized": (401, 20003, "Authenticate"),
    "not_found": (404, 20404, "The requested resource {path} was not found"),
    "expired": (404, 20404, "The requested resource {path} was not found"),
    "already_used": (404, 20404, "The requested resource {path} was not found"),
    "canceled": (404, 20404, "The requested resource {path} was not found"),
    "invalid_request": (400, 60200, "Invalid parameter"),
    "invalid_phone": (400, 60200, "Invalid parameter `To`"),
    "country_not_allowed": (403, 60605, "Verification delivery attempt blocked"),
    "opted_out": (403, 21610, "Attempt to send to unsubscribed recipient"),
    "channel_disabled": (400, 60223, "Delivery channel disabled"),
    "unavailable": (503, 20503, "Service unavailable"),
}
_SEND = {"locked": (429, 60203, "Max send attempts reached"),
         "rate_limited": (429, 60203, "Max send attempts reached")}
_CHECK = {"locked": (429, 60202, "Max check attempts reached"),
          "max_attempts": (429, 60202, "Max check attempts reached"),
          "rate_limited": (429, 20429, "Too Many Requests")}


class ChannelDisabled(OtpgwError):
    """otpgw delivers codes by SMS only."""

    status, code = 400, "channel_disabled"


def render(error: OtpgwError):
    """The Twilio body and status for ``error``, with otpgw's envelope and headers."""
    table = {**_COMMON, **(_CHECK if request.path.endswith("/VerificationCheck") else _SEND)}
    status, code, message = table.get(error.code, (error.status, error.status, error.message))
    text = message.format(path=request.path.removeprefix("/v2"))
    if code == 60223:
        text = f"{text}: {str(error.details.get('Channel', '')).upper()}"  # as Twilio: "...: WHATSAPP"
    elif code == 60200 and error.details:
        text = f"{text}: {_first_problem(error.details)}"
    headers = dict(error.headers)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="otpgw"'
    body = {"code": code, "message": text, "more_info": MORE_INFO.format(code), "status": status,
            **error.to_dict()}
    return body, status, headers


def render_http(error: HTTPException):
    """werkzeug's errors (413, 405...) inside the Twilio blueprint: through otpgw's mapping, then Twilio's."""
    body, status, headers = _render_http(error)
    envelope = body["error"]
    code = {413: 20413, 405: 20405}.get(status, status)
    return ({"code": code, "message": envelope["message"], "more_info": MORE_INFO.format(code), "status": status,
             **body}, status, headers)


def _first_problem(details: dict) -> str:
    """'To: not a valid number' from marshmallow's messages (or otpgw's details)."""
    for field, problem in details.items():
        text = problem[0] if isinstance(problem, list) and problem else problem
        return f"{field}: {text}" if isinstance(text, str) else str(field)
    return ""
