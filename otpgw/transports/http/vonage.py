"""Vonage's (Nexmo's) SMS API (``type = "vonage"``).

Options of ``[transports.<name>]``:

- ``api_key``, ``api_secret`` (required), ``from`` (required: a number without ``+`` or
  an alphanumeric sender id; a message's own sender wins);
- ``signature_secret`` and ``signature_method`` (``md5hash``, Vonage's default, or the
  HMACs ``md5``, ``sha1``, ``sha256``, ``sha512``, as set in Vonage's dashboard):
  needed to accept delivery receipts and inbound SMS, which are then signed. Without a
  signature secret no callback is requested and every callback is refused;
- ``callback_window`` (seconds, default 300): how far a callback's ``timestamp`` may be
  from our clock; its ``nonce`` is remembered that long (``replay.NonceWindow``: in
  memory, per process);
- ``base_url`` (default ``https://rest.nexmo.com``) and the client options.

Each message is a form POST to ``{base_url}/sms/json`` with ``api_key``, ``api_secret``,
``from``, ``to`` (digits, no ``+``), ``text``, ``type=unicode`` for a text that is not
GSM-7, ``ttl`` (milliseconds left before the code dies, clamped to Vonage's
20000..604800000), ``client-ref`` (the reference) and ``callback`` =
``{callback_url}/status`` (left out when longer than Vonage's 100 characters). Vonage
splits a long text itself and answers HTTP 200 with one entry per part: the receipt
holds every part's ``message-id`` and counts the parts.

Per-part ``status`` codes: 0 accepted; 1 throttled and 10 too many binds ->
``ThrottledError``; 5 internal error -> temporary; number- or content-side codes (3
invalid parameters, 6 invalid message or unknown prefix, 7 number barred, 12 too long,
22 invalid network, 33 number de-activated) -> permanent; every other code is on the
account's side (2 missing parameters, 4 credentials, 8 account barred, 9 no credit, 11
HTTP not enabled, 14 bad signature, 15 sender not allowed, 23 bad callback, 29
destination not whitelisted, 32 signature and secret both sent, and codes not listed)
-> ``TransportRefusedError``, so the worker fails over. If some parts were
accepted and another refused, the refusal decides (the handset would get half a text).

``client-ref`` is echoed in delivery receipts but Vonage does not de-duplicate by it:
a retry after ``OutcomeUnknownError`` may send the text twice; both copies report to
the same reference.

Callbacks (``/callbacks/<name>/<kind>``), GET query, POST form or POST JSON as set in
the dashboard, each with a valid ``sig``, a fresh ``timestamp`` and an unseen ``nonce``:

- ``status``: a delivery receipt per part (``messageId``, ``status``: delivered ->
  delivered; accepted, buffered -> sent; expired -> undelivered; failed, rejected ->
  failed; unknown is ignored), ``err-code``, ``client-ref`` as the reference;
- ``inbound``: an inbound SMS (``msisdn``, ``to``, ``messageId``, ``text``). A
  concatenated one arrives part by part; each part is passed on with its
  ``concat-ref``/``concat-part``/``concat-total`` in ``extra``.
"""
from __future__ import annotations

import time
from typing import Any

from ...config.options import Options
from ...domain.outcomes import DeliveryStatus
from ...domain.textcodec import Encoding
from ..base import (
    CallbackRequest,
    CallbackResult,
    CallbackTokens,
    DeliveryReport,
    ForgedCallbackError,
    InboundMessage,
    Message,
    PermanentTransportError,
    Receipt,
    TemporaryTransportError,
    ThrottledError,
    TransportError,
    TransportRefusedError,
)
from .callbacks import e164, fields
from .carrier import Clock, HttpCarrierTransport, secret_option, url_option
from .client import ClientOptions, Reply
from .replay import NonceWindow
from .replies import json_body, malformed, refusal, shorten
from .signatures import VONAGE_METHODS, vonage_signature_valid

DEFAULT_BASE_URL = "https://rest.nexmo.com"
TTL_RANGE_MS = (20_000, 604_800_000)
CALLBACK_MAX = 100
THROTTLE_STATUSES = frozenset({"1", "10"})
TEMPORARY_STATUSES = frozenset({"5"})
PERMANENT_STATUSES = frozenset({"3", "6", "7", "12", "22", "33"})
REPORTS = {"delivered": DeliveryStatus.DELIVERED, "accepted": DeliveryStatus.SENT, "buffered": DeliveryStatus.SENT,
           "expired": DeliveryStatus.UNDELIVERED, "failed": DeliveryStatus.FAILED, "rejected": DeliveryStatus.FAILED}


class VonageTransport(HttpCarrierTransport):
    type_name = "vonage"

    def __init__(self, name: str, *, api_key: str, api_secret: str, sender: str, signature_secret: str = "",
                 signature_method: str = "md5hash", callback_window: float = 300.0,
                 base_url: str = DEFAULT_BASE_URL, client_options: ClientOptions = ClientOptions(),
                 clock: Clock = time.time) -> None:
        super().__init__(name, f"{base_url}/sms/json", client_options, clock=clock)
        self.api_key, self.api_secret, self.sender = api_key, api_secret, sender
        self.signature_secret, self.signature_method = signature_secret, signature_method
        self.nonces = NonceWindow(callback_window)

    @classmethod
    def from_config(cls, name: str, options: Options) -> "VonageTransport":
        transport = cls(
            name, api_key=options.str("api_key", pattern=r"\S+", hint="no spaces"),
            api_secret=secret_option(options, "api_secret"),
            sender=options.str("from", pattern=r"\d{3,15}|[A-Za-z0-9 ]{1,11}",
                               hint="a number without + or up to 11 letters and digits"),
            signature_secret=secret_option(options, "signature_secret", ""),
            signature_method=options.str("signature_method", "md5hash", choices=VONAGE_METHODS),
            callback_window=options.float("callback_window", 300.0, low=10, high=3600),
            base_url=url_option(options, "base_url", DEFAULT_BASE_URL),
            client_options=ClientOptions.read(options))
        options.done()
        return transport

    def send(self, message: Message) -> Receipt:
        reply = self.client.request("POST", self.endpoint, data=self._form(message))
        if not reply.ok:
            raise refusal(self.name, reply, self.clock(), reason=_error_text(reply))
        return self._receipt(reply, message)

    def _form(self, message: Message) -> dict[str, str]:
        low, high = TTL_RANGE_MS
        form = {"api_key": self.api_key, "api_secret": self.api_secret, "from": message.sender or self.sender,
                "to": message.destination.lstrip("+"), "text": message.text, "client-ref": message.reference,
                "ttl": str(min(high, max(low, message.validity_s(self.now_ms()) * 1000)))}
        if message.encoding is Encoding.UCS2:
            form["type"] = "unicode"
        callback = f"{message.callback_url}/status" if message.callback_url else ""
        if callback and self.signature_secret and len(callback) <= CALLBACK_MAX:
            form["callback"] = callback
        return form

    def _receipt(self, reply: Reply, message: Message) -> Receipt:
        body = json_body(self.name, reply)
        parts = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            raise malformed(self.name, "its answer lists no messages")
        refused = [p for p in parts if str(p.get("status", "")) != "0"]
        if refused:
            raise self._part_error(refused[0])
        ids = tuple(str(p.get("message-id") or "") for p in parts)
        if not all(ids):
            raise malformed(self.name, "an accepted part has no message-id")
        return Receipt(ids, len(parts), message.encoding)

    def _part_error(self, part: dict[str, Any]) -> TransportError:
        status = str(part.get("status", ""))
        what = f"{self.name}: Vonage status {status} ({shorten(part.get('error-text', ''))})"
        if status in THROTTLE_STATUSES:
            return ThrottledError(what, code=status)
        if status in TEMPORARY_STATUSES:
            return TemporaryTransportError(what, code=status)
        if status in PERMANENT_STATUSES:
            return PermanentTransportError(what, code=status)
        return TransportRefusedError(what, code=status)

    def handle_callback(self, request: CallbackRequest, tokens: CallbackTokens) -> CallbackResult:
        params = self._authenticated(request)
        if request.kind == "status":
            return CallbackResult(self._report(params))
        if request.kind == "inbound":
            return CallbackResult(self._inbound(params, request.now_ms))
        raise ForgedCallbackError(f"{self.name}: no callback kind {request.kind!r}")

    def _authenticated(self, request: CallbackRequest) -> dict[str, str]:
        """The callback's fields once its signature, timestamp and nonce pass."""
        if not self.signature_secret:
            raise ForgedCallbackError(f"{self.name}: set signature_secret to accept Vonage callbacks")
        params = fields(request)
        if not vonage_signature_valid(self.signature_secret, self.signature_method, params):
            raise ForgedCallbackError(f"{self.name}: bad or missing sig")
        now_s = request.now_ms / 1000
        self.nonces.check_fresh(params.get("timestamp", ""), now_s)
        self.nonces.remember(params.get("nonce", ""), now_s)
        return params

    def _report(self, params: dict[str, str]) -> tuple[DeliveryReport, ...]:
        raw = params.get("status", "")
        status = REPORTS.get(raw.lower())
        if status is None:
            return ()
        error = params.get("err-code", "")
        return (DeliveryReport(self.name, status, reference=params.get("client-ref", ""),
                               carrier_id=params.get("messageId", ""),
                               error_code="" if error.strip("0") == "" else error, detail=raw),)

    def _inbound(self, params: dict[str, str], now_ms: int) -> tuple[InboundMessage, ...]:
        if not params.get("msisdn"):
            return ()
        extra = {k: params[k] for k in ("concat-ref", "concat-part", "concat-total", "keyword", "type") if k in params}
        return (InboundMessage(self.name, e164(params["msisdn"]), params.get("text", ""),
                               carrier_id=params.get("messageId", ""), recipient=params.get("to", ""),
                               received_ms=now_ms, extra=extra),)


def _error_text(reply: Reply) -> str:
    try:
        body = reply.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    return str(body.get("error-text") or body.get("title") or "") if isinstance(body, dict) else ""
