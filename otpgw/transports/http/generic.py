"""Any HTTP SMS API described in TOML, without code (``type = "http"``).

::

    [transports.acme]
    type = "http"
    from = "Acme"                      # {sender} when a message names none
    read_timeout = 10                  # and connect_timeout, max_connections

    [transports.acme.request]          # how to submit: request_shape
    url = "https://api.acme.example/v1/messages"
    auth = { type = "bearer", token = "${ACME_TOKEN}" }
    headers = { "Idempotency-Key" = "{reference}" }
    fields = { to = "{to}", text = "{text}", ref = "{reference}", report_url = "{status_url}", ttl = "{validity_s}" }

    [transports.acme.response]         # what the answer means: reply_shape
    success_status = [201]
    id_path = "message.id"
    error_code_path = "error.code"
    error_message_path = "error.message"
    permanent_codes = ["INVALID_NUMBER", "BLOCKED"]
    throttle_codes = ["RATE_LIMIT"]

    [transports.acme.callback]         # how its delivery report reads: callback_shape
    status_field = "state"
    id_field = "message_id"
    statuses = { DELIVRD = "delivered", UNDELIV = "undelivered", REJECTD = "failed", ENROUTE = "sent" }

Everything is checked when the transport is built; placeholders are listed in
``templates``. The carrier's reports come to ``/callbacks/<name>/status`` (the
``{status_url}`` given to it, with ``ref`` and the per-message ``token``, checked on
arrival); without a ``[callback]`` table every callback is refused, and a request that
hands out ``{status_url}`` then is a configuration error. If the carrier de-duplicates
by a key, send ``{reference}`` as that key (a header or a field): the worker retries
with the same reference after an unknown outcome.
"""
from __future__ import annotations

import time

from ...config.errors import SettingsError
from ...config.options import Options
from ..base import CallbackRequest, CallbackResult, CallbackTokens, ForgedCallbackError, Message, Receipt
from .callback_shape import CallbackShape
from .callbacks import check_token
from .carrier import Clock, HttpCarrierTransport
from .client import ClientOptions
from .reply_shape import ReplyShape
from .request_shape import RequestShape
from .templates import message_values

CALLBACK_NAMES = frozenset({"status_url", "token"})


class TemplatedHttpTransport(HttpCarrierTransport):
    type_name = "http"

    def __init__(self, name: str, *, request: RequestShape, response: ReplyShape = ReplyShape(),
                 callback: CallbackShape | None = None, sender: str = "",
                 client_options: ClientOptions = ClientOptions(), clock: Clock = time.time) -> None:
        super().__init__(name, request.url.source, client_options, clock=clock)
        self.request, self.response, self.callback, self.sender = request, response, callback, sender

    @classmethod
    def from_config(cls, name: str, options: Options) -> "TemplatedHttpTransport":
        request = RequestShape.read(options.table("request"))
        response = ReplyShape.read(options.table("response", {}))
        callback = CallbackShape.read(options.table("callback")) if "callback" in options else None
        sender = options.str("from", "")
        client_options = ClientOptions.read(options)
        options.done()
        used = request.names & CALLBACK_NAMES
        if used and callback is None:
            raise SettingsError(f"{options.where}.request uses {{{sorted(used)[0]}}} but there is no "
                                f"[{options.where}.callback] table, so every delivery report would be refused")
        return cls(name, request=request, response=response, callback=callback, sender=sender,
                   client_options=client_options)

    def send(self, message: Message) -> Receipt:
        method, url, kwargs = self.request.build(message_values(message, self.sender, self.now_ms()))
        reply = self.client.request(method, url, **kwargs)
        return self.response.receipt(self.name, reply, message, self.clock())

    def handle_callback(self, request: CallbackRequest, tokens: CallbackTokens) -> CallbackResult:
        if self.callback is None:
            raise ForgedCallbackError(f"{self.name}: no [callback] table, so no callbacks are accepted")
        if request.kind != "status":
            raise ForgedCallbackError(f"{self.name}: no callback kind {request.kind!r}")
        reference = check_token(request, tokens, self.name)
        return CallbackResult(self.callback.reports(self.name, request, reference), self.callback.answer)
