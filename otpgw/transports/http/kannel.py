"""Kannel's smsbox ``sendsms`` interface (``type = "kannel"``), and its callbacks.

Options of ``[transports.<name>]``:

- ``url`` (required, e.g. ``http://kannel:13013/cgi-bin/sendsms``), ``username`` and
  ``password`` (a ``sendsms-user`` group);
- ``from`` (default: Kannel's ``global-sender``; a message's own sender wins),
  ``smsc`` (route to one ``smsc-id``), ``dlr_mask`` (default 31: every report; 0: none);
- ``method``: ``GET`` (default; every field in the query, Kannel's CGI interface) or
  ``POST`` (the text as a ``text/plain; charset=UTF-8`` body and the fields as
  ``X-Kannel-*`` headers, which keeps the password and the code out of access logs);
- ``inbound_token``: the secret in the ``get-url`` of the ``sms-service`` that passes
  inbound SMS to otpgw (without it inbound callbacks are refused);
- the client options (``connect_timeout``, ``read_timeout``, ``max_connections``).

Each message carries ``to``, ``text`` in UTF-8 (``charset=UTF-8``) with ``coding=0``,
or ``coding=2`` (UCS-2) when the text is not GSM-7; ``validity`` in *minutes* (Kannel
1.4's unit), rounded down so the SMSC drops it before the code dies (at least 1);
``dlr-mask``; and a ``dlr-url`` (see below). Kannel answers ``202 0: Accepted for
delivery`` or ``202 3: Queued for later delivery`` and no message id, so the receipt
has no carrier ids and counts the parts here. A 2xx with another body may still have
been accepted (``OutcomeUnknownError``); 403 (authorization failed) means this Kannel
will not take it (``TransportRefusedError``: the worker fails over), other 4xx are
permanent; 5xx (503: try again later) are temporary. Kannel de-duplicates nothing: a
retry after an unknown outcome may send the text twice.

Callbacks (``/callbacks/<name>/<kind>``):

- ``status``: the ``dlr-url`` otpgw gives Kannel for each message is
  ``{callback_url}/status?ref=<reference>&token=<token>&status=%d&id=%F``; Kannel fills
  ``%d`` (1 delivered, 2 undelivered, 4 buffered -> sent, 8 SMSC accepted -> sent,
  16 SMSC rejected -> failed) and ``%F`` (the SMSC's message id). The token is checked.
- ``inbound``: configure Kannel's catch-all service with this ``get-url`` (and
  ``max-messages = 0`` so Kannel sends no reply SMS)::

      group = sms-service
      keyword = default
      catch-all = true
      max-messages = 0
      get-url = "https://otp.example.com/callbacks/<name>/inbound?token=<inbound_token>&from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"

  ``%b`` is the text as sent, decoded here by ``%C`` (UTF-16BE for UCS-2).
"""
from __future__ import annotations

import codecs
import hmac
import time

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
    OutcomeUnknownError,
    Receipt,
    TransportRefusedError,
)
from .callbacks import check_token, e164, raw_query_bytes, status_url
from .carrier import Clock, HttpCarrierTransport, secret_option, url_option
from .client import ClientOptions, Reply
from .replies import refusal, shorten

ACCEPTED = ("0:", "3:")  # "0: Accepted for delivery", "3: Queued for later delivery"
REPORTS = {1: DeliveryStatus.DELIVERED, 2: DeliveryStatus.UNDELIVERED, 4: DeliveryStatus.SENT,
           8: DeliveryStatus.SENT, 16: DeliveryStatus.FAILED}
HEADER_NAMES = {"username": "X-Kannel-Username", "password": "X-Kannel-Password", "from": "X-Kannel-From",
                "to": "X-Kannel-To", "coding": "X-Kannel-Coding", "validity": "X-Kannel-Validity",
                "dlr-mask": "X-Kannel-DLR-Mask", "dlr-url": "X-Kannel-DLR-Url", "smsc": "X-Kannel-SMSC"}


class KannelTransport(HttpCarrierTransport):
    type_name = "kannel"

    def __init__(self, name: str, *, url: str, username: str, password: str, sender: str = "", smsc: str = "",
                 dlr_mask: int = 31, method: str = "GET", inbound_token: str = "",
                 client_options: ClientOptions = ClientOptions(), clock: Clock = time.time) -> None:
        super().__init__(name, url, client_options, clock=clock)
        self.username, self.password, self.sender, self.smsc = username, password, sender, smsc
        self.dlr_mask, self.method, self.inbound_token = dlr_mask, method, inbound_token

    @classmethod
    def from_config(cls, name: str, options: Options) -> "KannelTransport":
        transport = cls(name, url=url_option(options, "url"), username=options.str("username", pattern=r"\S+"),
                        password=secret_option(options, "password"),
                        sender=options.str("from", "", pattern=r"\+?[A-Za-z0-9 ]{1,16}"),
                        smsc=options.str("smsc", "", pattern=r"[\w.-]+"),
                        dlr_mask=options.int("dlr_mask", 31, low=0, high=31),
                        method=options.str("method", "GET", choices=("GET", "POST"), upper=True),
                        inbound_token=secret_option(options, "inbound_token", ""),
                        client_options=ClientOptions.read(options))
        options.done()
        return transport

    def send(self, message: Message) -> Receipt:
        fields = self._fields(message)
        if self.method == "GET":
            reply = self.client.request("GET", self.endpoint, params={**fields, "text": message.text,
                                                                      "charset": "UTF-8"})
        else:
            headers = {HEADER_NAMES[k]: v for k, v in fields.items()}
            reply = self.client.request("POST", self.endpoint, content=message.text.encode("utf-8"),
                                        headers={**headers, "Content-Type": "text/plain; charset=UTF-8"})
        return self._receipt(reply, message)

    def _fields(self, message: Message) -> dict[str, str]:
        minutes = max(1, message.validity_s(self.now_ms()) // 60)
        fields = {"username": self.username, "password": self.password, "to": message.destination,
                  "coding": "2" if message.encoding is Encoding.UCS2 else "0", "validity": str(minutes)}
        optional = {"from": message.sender or self.sender, "smsc": self.smsc}
        fields.update({k: v for k, v in optional.items() if v})
        if message.callback_url and self.dlr_mask:  # %d and %F are Kannel's, left unescaped
            fields.update({"dlr-mask": str(self.dlr_mask), "dlr-url": status_url(message) + "&status=%d&id=%F"})
        return fields

    def _receipt(self, reply: Reply, message: Message) -> Receipt:
        answer = shorten(reply.text)
        if reply.ok and answer.startswith(ACCEPTED):
            return Receipt((), message.parts, message.encoding)
        if reply.ok:
            raise OutcomeUnknownError(f"{self.name}: Kannel answered HTTP {reply.status} {answer!r}; "
                                      "it may have accepted the message")
        if reply.status == 403:  # authorization failed (or sender refused): another carrier may take it
            raise TransportRefusedError(f"{self.name}: Kannel refused the request ({answer})", code="403")
        raise refusal(self.name, reply, self.clock(), code=str(reply.status), reason=answer)

    def handle_callback(self, request: CallbackRequest, tokens: CallbackTokens) -> CallbackResult:
        if request.kind == "status":
            return CallbackResult(self._report(request, check_token(request, tokens, self.name)))
        if request.kind == "inbound":
            return CallbackResult(self._inbound(request))
        raise ForgedCallbackError(f"{self.name}: no callback kind {request.kind!r}")

    def _report(self, request: CallbackRequest, reference: str) -> tuple[DeliveryReport, ...]:
        raw = request.query.get("status", "")
        status = REPORTS.get(int(raw)) if raw.isdigit() else None
        if status is None:
            return ()
        return (DeliveryReport(self.name, status, reference=reference, carrier_id=request.query.get("id", ""),
                               detail=f"kannel dlr {raw}"),)

    def _inbound(self, request: CallbackRequest) -> tuple[InboundMessage, ...]:
        token = request.query.get("token", "")
        if not self.inbound_token or not hmac.compare_digest(token.encode(), self.inbound_token.encode()):
            raise ForgedCallbackError(f"{self.name}: inbound callback without a valid token")
        sender = request.query.get("from", "")
        if not sender:
            return ()
        return (InboundMessage(self.name, e164(sender), _inbound_text(request), carrier_id=request.query.get("id", ""),
                               recipient=request.query.get("to", ""), received_ms=request.now_ms),)


def _inbound_text(request: CallbackRequest) -> str:
    """The text of ``%b`` in the charset Kannel names (``%C``), UTF-16BE for UCS-2."""
    raw = raw_query_bytes(request, "text")
    if raw is None:
        return request.query.get("text", "")
    charset = request.query.get("charset", "") or ("UTF-16BE" if request.query.get("coding") == "2" else "UTF-8")
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "UTF-8"
    return raw.decode(charset, errors="replace")
