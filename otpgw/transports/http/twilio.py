"""Twilio's Programmable Messaging API (``type = "twilio"``).

Options of ``[transports.<name>]``:

- ``account_sid`` (required, ``AC`` + 32 hex) and either ``auth_token`` or the pair
  ``api_key_sid`` (``SK...``) + ``api_key_secret``. Twilio signs its webhooks with the
  account's auth token, so without ``auth_token`` no status callback is requested and
  every callback is refused.
- ``from`` (an E.164 number, short code or alphanumeric sender id) and/or
  ``messaging_service_sid`` (``MG...``); at least one. A message's own sender wins.
- ``base_url`` (default ``https://api.twilio.com``), plus the client options
  (``connect_timeout``, ``read_timeout``, ``max_connections``).

Each message is a form POST to ``{base_url}/2010-04-01/Accounts/{sid}/Messages.json``
with basic auth, ``To``, ``From``/``MessagingServiceSid``, ``Body``, ``ValidityPeriod``
(the seconds left before the code dies, clamped to Twilio's 1..36000) and
``StatusCallback`` = ``{callback_url}/status?ref={reference}``. The receipt holds the
message ``sid``; parts are Twilio's ``num_segments`` when it says, else counted here.

Refusals: 429 / code 20429 (and 14107, 21611, queue limits) throttle with
``Retry-After``; 5xx is temporary; account-side codes (credentials, an unverified or
unknown sender, a region not enabled) are retryable so the worker fails over; every
other 4xx (21211 invalid number, 21610 unsubscribed, 21614 not a mobile) is permanent.

Twilio offers no idempotency key for new messages: after an ``OutcomeUnknownError``
the retry with the same reference may make a second message, and nothing on Twilio's
side can prevent it. Both carry the same reference in their status URL, so their
reports land on the same code.

Callbacks (``/callbacks/<name>/<kind>``), each checked against ``X-Twilio-Signature``
over the full URL and the form fields, and refused when the form's ``AccountSid`` is
another account's:

- ``status``: ``MessageStatus`` (``sent`` and ``sending`` -> sent, ``delivered`` and
  ``read`` -> delivered, ``undelivered``, ``failed`` and ``canceled`` -> failed;
  ``queued``, ``accepted``, ``scheduled`` and unknown ones are acknowledged and ignored),
  ``ErrorCode``, ``MessageSid``, and ``ref`` from the query;
- ``inbound``: Twilio's incoming-message webhook (``From``, ``To``, ``Body``,
  ``MessageSid``), answered with empty TwiML so Twilio replies nothing.
"""
from __future__ import annotations

import time
from urllib.parse import quote

from ...config.options import Options
from ...domain.outcomes import DeliveryStatus
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
    ThrottledError,
    TransportError,
    TransportRefusedError,
)
from .callbacks import e164, header
from .carrier import Clock, HttpCarrierTransport, secret_option, url_option
from .client import ClientOptions, Reply
from .replies import error_json, json_body, malformed, refusal, retry_after, shorten
from .signatures import twilio_signature_valid

DEFAULT_BASE_URL = "https://api.twilio.com"
VALIDITY_RANGE = (1, 36000)
THROTTLE_CODES = frozenset({"20429", "14107", "21611"})
ACCOUNT_SIDE_CODES = frozenset({"20003", "20005", "20404", "21212", "21408", "21606", "21608", "21612", "21730"})
STATUSES = {"sending": DeliveryStatus.SENT, "sent": DeliveryStatus.SENT, "delivered": DeliveryStatus.DELIVERED,
            "read": DeliveryStatus.DELIVERED, "undelivered": DeliveryStatus.UNDELIVERED,
            "failed": DeliveryStatus.FAILED, "canceled": DeliveryStatus.FAILED}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SENDER = r"\+\d{6,15}|\d{3,8}|[A-Za-z0-9 ]{1,11}"


class TwilioTransport(HttpCarrierTransport):
    type_name = "twilio"

    def __init__(self, name: str, *, account_sid: str, auth_token: str = "", api_key_sid: str = "",
                 api_key_secret: str = "", sender: str = "", messaging_service_sid: str = "",
                 base_url: str = DEFAULT_BASE_URL, client_options: ClientOptions = ClientOptions(),
                 clock: Clock = time.time) -> None:
        auth = (api_key_sid, api_key_secret) if api_key_sid else (account_sid, auth_token)
        super().__init__(name, f"{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json", client_options,
                         auth=auth, clock=clock)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid

    @classmethod
    def from_config(cls, name: str, options: Options) -> "TwilioTransport":
        values = dict(
            account_sid=options.str("account_sid", pattern=r"AC[0-9a-fA-F]{32}", hint="AC followed by 32 hex digits"),
            auth_token=secret_option(options, "auth_token", ""),
            api_key_sid=options.str("api_key_sid", "", pattern=r"SK[0-9a-fA-F]{32}",
                                    hint="SK followed by 32 hex digits"),
            api_key_secret=secret_option(options, "api_key_secret", ""),
            sender=options.str("from", "", pattern=SENDER, hint="an E.164 number, a short code or up to 11 letters"),
            messaging_service_sid=options.str("messaging_service_sid", "", pattern=r"MG[0-9a-fA-F]{32}",
                                              hint="MG followed by 32 hex digits"),
            base_url=url_option(options, "base_url", DEFAULT_BASE_URL),
            client_options=ClientOptions.read(options))
        options.done()
        cls._check_choices(options, values)
        return cls(name, **values)

    @staticmethod
    def _check_choices(options: Options, values: dict) -> None:
        if bool(values["api_key_sid"]) != bool(values["api_key_secret"]):
            raise options.fail("api_key_secret", "api_key_sid and api_key_secret go together")
        if not values["auth_token"] and not values["api_key_sid"]:
            raise options.fail("auth_token", "is required (or api_key_sid and api_key_secret)")
        if not values["sender"] and not values["messaging_service_sid"]:
            raise options.fail("from", "is required (or messaging_service_sid)")

    def send(self, message: Message) -> Receipt:
        reply = self.client.request("POST", self.endpoint, data=self._form(message))
        if not reply.ok:
            raise self._refusal(reply)
        return self._receipt(reply, message)

    def _form(self, message: Message) -> dict[str, str]:
        low, high = VALIDITY_RANGE
        form = {"To": message.destination, "Body": message.text,
                "ValidityPeriod": str(min(high, max(low, message.validity_s(self.now_ms()))))}
        if message.sender or self.sender:
            form["From"] = message.sender or self.sender
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        if message.callback_url and self.auth_token:
            form["StatusCallback"] = f"{message.callback_url}/status?ref={quote(message.reference, safe='')}"
        return form

    def _receipt(self, reply: Reply, message: Message) -> Receipt:
        body = json_body(self.name, reply)
        sid = body.get("sid") if isinstance(body, dict) else None
        if not isinstance(sid, str) or not sid:
            raise malformed(self.name, "its answer has no message sid")
        segments = str(body.get("num_segments") or "")
        parts = int(segments) if segments.isdigit() and int(segments) > 0 else message.parts
        return Receipt((sid,), parts, message.encoding)

    def _refusal(self, reply: Reply) -> TransportError:
        body = error_json(reply)
        code, reason = str(body.get("code") or ""), shorten(body.get("message", ""))
        if code in THROTTLE_CODES:
            return ThrottledError(f"{self.name}: Twilio {code} ({reason})", code=code,
                                  retry_after=retry_after(reply.headers.get("retry-after"), self.clock()))
        if code in ACCOUNT_SIDE_CODES:
            return TransportRefusedError(f"{self.name}: Twilio {code} ({reason})", code=code)
        error = refusal(self.name, reply, self.clock(), code=code, reason=reason)
        if isinstance(error, PermanentTransportError) and code:
            return PermanentTransportError(f"{self.name}: Twilio {code} ({reason})", code=code)
        return error

    def handle_callback(self, request: CallbackRequest, tokens: CallbackTokens) -> CallbackResult:
        self._authenticate(request)
        if request.kind == "status":
            return CallbackResult(self._report(request))
        if request.kind == "inbound":
            return CallbackResult(self._inbound(request), EMPTY_TWIML, "text/xml")
        raise ForgedCallbackError(f"{self.name}: no callback kind {request.kind!r}")

    def _authenticate(self, request: CallbackRequest) -> None:
        if not self.auth_token:
            raise ForgedCallbackError(f"{self.name}: set auth_token to check Twilio's signatures")
        params = dict(request.form) if request.method.upper() == "POST" else {}
        signature = header(request, "X-Twilio-Signature")
        if not twilio_signature_valid(self.auth_token, request.url, params, signature):
            raise ForgedCallbackError(f"{self.name}: bad or missing X-Twilio-Signature")
        account = request.form.get("AccountSid") or request.query.get("AccountSid", "")
        if account and account != self.account_sid:
            raise ForgedCallbackError(f"{self.name}: callback for another Twilio account")

    def _report(self, request: CallbackRequest) -> tuple[DeliveryReport, ...]:
        fields = {**request.query, **request.form}
        raw = fields.get("MessageStatus") or fields.get("SmsStatus", "")
        status = STATUSES.get(raw.lower())
        if status is None:
            return ()
        return (DeliveryReport(self.name, status, reference=request.query.get("ref", ""),
                               carrier_id=fields.get("MessageSid") or fields.get("SmsSid", ""),
                               error_code=fields.get("ErrorCode", ""), detail=raw),)

    def _inbound(self, request: CallbackRequest) -> tuple[InboundMessage, ...]:
        fields = {**request.query, **request.form}
        if not fields.get("From"):
            return ()
        return (InboundMessage(self.name, e164(fields["From"]), fields.get("Body", ""),
                               carrier_id=fields.get("MessageSid") or fields.get("SmsMessageSid", ""),
                               recipient=fields.get("To", ""), received_ms=request.now_ms,
                               extra={k: fields[k] for k in ("NumSegments",) if k in fields}),)
