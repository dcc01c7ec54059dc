"""Reading carrier callbacks: where their fields are, and otpgw's per-message URL token.

Carriers that sign nothing (Kannel, templated HTTP APIs) get a status URL of the shape
``{callback_url}/status?ref=<reference>&token=<callback token>``; the token is
``Message.callback_token`` and is checked with ``CallbackTokens.check(transport, ref,
token)``. A callback without a matching token changes nothing (``ForgedCallbackError``).
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote, unquote_to_bytes, urlencode, urlsplit

from ..base import CallbackRequest, CallbackTokens, ForgedCallbackError, Message


def status_url(message: Message, **extra: str) -> str:
    """``{callback_url}/status?ref=..&token=..`` plus ``extra`` query fields, or '' when
    there is no public URL. ``extra`` values are URL-encoded."""
    if not message.callback_url:
        return ""
    query = urlencode({"ref": message.reference, "token": message.callback_token, **extra}, quote_via=quote)
    return f"{message.callback_url}/status?{query}"


def check_token(request: CallbackRequest, tokens: CallbackTokens, transport: str) -> str:
    """The reference of a callback whose ``ref`` and ``token`` query fields match."""
    reference, token = request.query.get("ref", ""), request.query.get("token", "")
    if not reference or not token or not tokens.check(transport, reference, token):
        raise ForgedCallbackError(f"{transport}: callback without a valid token")
    return reference


def fields(request: CallbackRequest) -> dict[str, str]:
    """Every field a carrier may send, as strings: the query, then the form, then a JSON
    object's top-level keys (later sources win)."""
    merged: dict[str, str] = dict(request.query)
    merged.update(request.form)
    if isinstance(request.json, Mapping):
        merged.update({str(k): _text(v) for k, v in request.json.items() if v is not None})
    return merged


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def header(request: CallbackRequest, name: str) -> str:
    """A request header by case-insensitive name ('' when absent)."""
    wanted = name.lower()
    return next((v for k, v in request.headers.items() if k.lower() == wanted), "")


def raw_query_bytes(request: CallbackRequest, key: str) -> bytes | None:
    """The undecoded bytes of one query field (for texts in a charset other than UTF-8,
    such as Kannel's UCS-2 ``%b``), or None when absent."""
    for pair in urlsplit(request.url).query.split("&"):
        name, _, value = pair.partition("=")
        if unquote_to_bytes(name.replace("+", " ")) == key.encode():
            return unquote_to_bytes(value.replace("+", " "))
    return None


def e164(number: str) -> str:
    """A sender as carriers write it (``+4917..``, ``004917..``, ``4917..``) in E.164;
    an alphanumeric sender is kept as it is."""
    number = number.strip()
    if number.startswith("00") and number[2:].isdigit():
        return "+" + number[2:]
    if number.isdigit():
        return "+" + number
    return number
