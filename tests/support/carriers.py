"""Fake carriers that play Twilio, Vonage and a generic SMS API by their documentation.

Each is a real HTTP server on a free 127.0.0.1 port (``carrier_server.FakeCarrier``):
``with TwilioCarrier() as twilio:`` then point a transport's ``base_url`` at
``twilio.url``. They check what the carrier checks (credentials, required fields, the
number format), answer with the carrier's documented shapes, record every request
(``.requests``, ``.last``) and fail on demand (``.fail_next(Fault.throttled("7"))``,
or the carrier's own refusals: ``TwilioCarrier.error(21211)``,
``VonageCarrier.refusal("29")``). They also build the callbacks the carrier would send,
signed with the carrier's SDK (``carrier_callbacks.CarrierCallback``):
``twilio.status_callback(...)``, ``twilio.inbound(...)``, ``vonage.delivery_receipt(...)``,
``vonage.inbound(...)``, ``GenericCarrier.report(...)``.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator
from vonage_http_client import Auth as VonageAuth

from otpgw.domain.textcodec import split_segments

from .carrier_callbacks import CarrierCallback
from .carrier_server import Answer, CallbackRecorder, FakeCarrier, Fault, RecordedRequest

__all__ = ["Answer", "CallbackRecorder", "CarrierCallback", "FakeCarrier", "Fault", "GenericCarrier",
           "RecordedRequest", "TwilioCarrier", "VonageCarrier", "vonage_md5hash"]

E164 = re.compile(r"\+[1-9]\d{6,14}")


class TwilioCarrier(FakeCarrier):
    """Twilio's Messages API: ``POST /2010-04-01/Accounts/{sid}/Messages.json``."""

    ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
    AUTH_TOKEN = "twilio-auth-token-0123456789abcdef"
    API_KEY_SID = "SK" + "fedcba9876543210" * 2
    API_KEY_SECRET = "twilio-api-key-secret"

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.credentials = {(account_sid, auth_token), (self.API_KEY_SID, self.API_KEY_SECRET)}
        self.num_segments: int | None = None  # answer this instead of counting
        self.messages: list[dict[str, Any]] = []

    @staticmethod
    def error(code: int, message: str = "", status: int = 400, *headers: tuple[str, str]) -> Fault:
        """Twilio's JSON error body (code, message, more_info, status)."""
        return Fault(TwilioCarrier._error(code, message or f"Twilio error {code}", status, *headers))

    @staticmethod
    def _error(code: int, message: str, status: int, *headers: tuple[str, str]) -> Answer:
        return Answer.json(status, {"code": code, "message": message, "status": status,
                                    "more_info": f"https://www.twilio.com/docs/errors/{code}"}, *headers)

    def answer(self, request: RecordedRequest) -> Answer:
        if request.method != "POST" or request.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return self._error(20404, "The requested resource was not found", 404)
        if request.basic_auth not in self.credentials:
            return self._error(20003, "Authenticate", 401)
        form = request.form
        if not form.get("Body"):
            return self._error(21602, "Message body is required.", 400)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._error(21603, "A 'From' phone number is required.", 400)
        if not E164.fullmatch(form.get("To", "")):
            return self._error(21211, f"The 'To' number {form.get('To', '')} is not a valid phone number.", 400)
        return Answer.json(201, self._created(form))

    def _created(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        segments = self.num_segments or len(split_segments(form["Body"]))
        message = {"account_sid": self.account_sid, "api_version": "2010-04-01", "body": form["Body"],
                   "date_created": formatdate(usegmt=True), "date_sent": None, "direction": "outbound-api",
                   "error_code": None, "error_message": None, "from": form.get("From"),
                   "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0",
                   "num_segments": str(segments), "price": None, "sid": sid,
                   "status": "accepted" if form.get("MessagingServiceSid") else "queued", "to": form["To"],
                   "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}
        self.messages.append({**message, "status_callback": form.get("StatusCallback", "")})
        return message

    def status_callback(self, message_sid: str, status: str, *, url: str = "", error_code: str = "",
                        to: str = "+14155552671", token: str | None = None) -> CarrierCallback:
        """The POST Twilio makes to a message's StatusCallback, signed (X-Twilio-Signature)."""
        url = url or next(m["status_callback"] for m in self.messages if m["sid"] == message_sid)
        form = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": "+15017122661",
                "MessageSid": message_sid, "MessageStatus": status, "SmsSid": message_sid, "SmsStatus": status,
                "To": to}
        if error_code:
            form["ErrorCode"] = error_code
        return self._signed(url, form, token)

    def inbound(self, url: str, sender: str, text: str, *, to: str = "+15017122661",
                token: str | None = None) -> CarrierCallback:
        """The POST Twilio makes to a number's incoming-message webhook, signed."""
        form = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "Body": text, "From": sender,
                "MessageSid": "SM" + secrets.token_hex(16), "NumMedia": "0", "NumSegments": "1",
                "SmsMessageSid": "SM" + secrets.token_hex(16), "To": to}
        return self._signed(url, form, token)

    def _signed(self, url: str, form: dict[str, str], token: str | None) -> CarrierCallback:
        signature = RequestValidator(token or self.auth_token).compute_signature(url, form)
        return CarrierCallback("POST", url, form, headers={"X-Twilio-Signature": signature})


class VonageCarrier(FakeCarrier):
    """Vonage's SMS API: ``POST /sms/json``, one entry per part in an HTTP 200 answer."""

    API_KEY = "abcd1234"
    API_SECRET = "vonage-api-secret"
    SIGNATURE_SECRET = "vonage-signature-secret-0123456789"

    def __init__(self, signature_method: str = "sha256", signature_secret: str = SIGNATURE_SECRET) -> None:
        super().__init__()
        self.signature_method, self.signature_secret = signature_method, signature_secret
        self._ids = itertools.count(0x1A0000000000000)

    @staticmethod
    def refusal(status: str, error_text: str = "") -> Fault:
        """A documented non-zero per-message status in an HTTP 200 answer."""
        part = {"status": status, "error-text": error_text or f"status {status}"}
        return Fault(Answer.json(200, {"message-count": "1", "messages": [part]}))

    def answer(self, request: RecordedRequest) -> Answer:
        if request.method != "POST" or request.path != "/sms/json":
            return Answer.json(404, {"type": "https://developer.vonage.com/api-errors#not-found", "title": "Not Found"})
        form = request.form or request.json or {}
        if (form.get("api_key"), form.get("api_secret")) != (self.API_KEY, self.API_SECRET):
            return self._refused("4", "Bad Credentials")
        missing = [k for k in ("from", "to", "text") if not form.get(k)]
        if missing:
            return self._refused("2", f"Missing {missing[0]} param")
        if not form["to"].isdigit():
            return self._refused("3", "Invalid to address")
        parts = split_segments(form["text"])
        return Answer.json(200, {"message-count": str(len(parts)), "messages": [self._part(form) for _ in parts]})

    def _refused(self, status: str, text: str) -> Answer:
        return Answer.json(200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]})

    def _part(self, form: dict[str, str]) -> dict[str, str]:
        part = {"to": form["to"], "message-id": f"{next(self._ids):X}", "status": "0",
                "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "23410"}
        if form.get("client-ref"):
            part["client-ref"] = form["client-ref"]
        return part

    def sign(self, params: dict[str, str]) -> dict[str, str]:
        """``params`` with ``sig``, computed by Vonage's SDK (or the documented MD5 hash)."""
        params = dict(params)
        if self.signature_method == "md5hash":
            params["sig"] = vonage_md5hash(self.signature_secret, params)
        else:
            auth = VonageAuth(api_key=self.API_KEY, signature_secret=self.signature_secret,
                              signature_method=self.signature_method)
            params["sig"] = auth.sign_params(dict(params))
        return params

    def delivery_receipt(self, url: str, message_id: str, status: str = "delivered", *, client_ref: str = "",
                         err_code: str = "0", msisdn: str = "447700900000", method: str = "POST-JSON",
                         timestamp: int | None = None, nonce: str | None = None, sign: bool = True) -> CarrierCallback:
        """A delivery receipt as Vonage sends it (``method``: GET, POST or POST-JSON)."""
        now = int(time.time()) if timestamp is None else timestamp
        params = {"msisdn": msisdn, "to": "Acme", "network-code": "23410", "messageId": message_id,
                  "price": "0.03330000", "status": status, "scts": time.strftime("%y%m%d%H%M", time.gmtime(now)),
                  "err-code": err_code, "api-key": self.API_KEY,
                  "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)),
                  "timestamp": str(now), "nonce": nonce or secrets.token_hex(8)}
        if client_ref:
            params["client-ref"] = client_ref
        return self._callback(url, self.sign(params) if sign else params, method)

    def inbound(self, url: str, msisdn: str, text: str, *, method: str = "POST-JSON", timestamp: int | None = None,
                nonce: str | None = None, **extra: str) -> CarrierCallback:
        """An inbound SMS as Vonage sends it to the number's webhook, signed."""
        now = int(time.time()) if timestamp is None else timestamp
        params = {"msisdn": msisdn, "to": "447700900001", "messageId": f"{next(self._ids):X}", "text": text,
                  "type": "unicode" if any(ord(c) > 0xFF for c in text) else "text",
                  "keyword": (text.split() or [""])[0].upper(), "api-key": self.API_KEY,
                  "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)),
                  "timestamp": str(now), "nonce": nonce or secrets.token_hex(8), **extra}
        return self._callback(url, self.sign(params), method)

    @staticmethod
    def _callback(url: str, params: dict[str, str], method: str) -> CarrierCallback:
        if method == "GET":
            return CarrierCallback("GET", f"{url}?{urlencode(params)}")
        if method == "POST":
            return CarrierCallback("POST", url, params)
        return CarrierCallback("POST", url, json=params)


def vonage_md5hash(secret: str, params: dict[str, str]) -> str:
    """Vonage's legacy ``md5hash`` signature, as its signing guide describes it (the v4
    SDK dropped it): MD5 of ``&key=value`` pairs, sorted, with ``&`` and ``=`` in
    values replaced by ``_``, followed by the secret."""
    text = "".join(f"&{k}={str(params[k]).replace('&', '_').replace('=', '_')}" for k in sorted(params) if k != "sig")
    return hashlib.md5((text + secret).encode()).hexdigest()


class GenericCarrier(FakeCarrier):
    """An SMS API of no particular vendor, in two dialects:

    - ``POST /v1/messages`` JSON with ``Authorization: Bearer <TOKEN>``: 201
      ``{"message": {"id", "status": "queued"}}``; a bad number 400
      ``{"error": {"code": "INVALID_NUMBER", "message"}}``; a bad token 401;
    - ``/v1/send`` (GET query or POST form, ``key=<TOKEN>``): 200 ``OK id=<id>`` or
      200 ``ERR <CODE> <reason>`` (refusals in a 200, as many older APIs do).
    """

    TOKEN = "generic-api-token"

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1000)

    def answer(self, request: RecordedRequest) -> Answer:
        if request.path == "/v1/messages" and request.method == "POST":
            return self._json_api(request)
        if request.path == "/v1/send":
            return self._text_api(request.form if request.method == "POST" else request.query)
        return Answer.json(404, {"error": {"code": "NOT_FOUND", "message": "no such endpoint"}})

    def _json_api(self, request: RecordedRequest) -> Answer:
        if request.header("Authorization") != f"Bearer {self.TOKEN}":
            return Answer.json(401, {"error": {"code": "AUTH", "message": "bad token"}})
        body = request.json or {}
        if not E164.fullmatch(str(body.get("to", ""))):
            return Answer.json(400, {"error": {"code": "INVALID_NUMBER", "message": "to is not a valid number"}})
        return Answer.json(201, {"message": {"id": f"msg-{next(self._ids)}", "status": "queued"}})

    def _text_api(self, fields: dict[str, str]) -> Answer:
        if fields.get("key") != self.TOKEN:
            return Answer.text(200, "ERR AUTH bad key")
        if not fields.get("to", "").isdigit():
            return Answer.text(200, "ERR INVALID_NUMBER bad number")
        return Answer.text(200, f"OK id={next(self._ids)}")

    @staticmethod
    def report(status_url: str, message_id: str, state: str, *, error: str = "",
               method: str = "POST") -> CarrierCallback:
        """The carrier's delivery report to the status URL it was given."""
        fields = {"message_id": message_id, "state": state, **({"error_code": error} if error else {})}
        if method == "GET":
            return CarrierCallback("GET", f"{status_url}&{urlencode(fields)}")
        return CarrierCallback("POST", status_url, json=fields)
