"""Carrier callbacks, whatever the carrier: authenticate, parse, apply.

The API's ``/callbacks/<transport>/<kind>`` view hands each call here as a framework-free
``CallbackRequest``. The named transport checks it the carrier's way (Twilio's signature,
Vonage's ``sig`` with a freshness window, a per-message token for Kannel and templated
APIs) and turns it into events; a forged, stale or replayed call raises
``ForgedCallbackError`` and changes nothing. Events are applied by ``DeliveryEvents``,
where a status only moves forward, so a repeated or late report is harmless.
"""
from __future__ import annotations

import logging
from typing import Mapping

from ..domain.signing import CallbackTokens
from ..errors import Forbidden, NotFound
from ..transports import CallbackRequest, CallbackResult, ForgedCallbackError, Transport
from .reports import DeliveryEvents

log = logging.getLogger("otpgw.callbacks")


class CallbackHub:
    def __init__(self, transports: Mapping[str, Transport], tokens: CallbackTokens, events: DeliveryEvents):
        self.transports = transports
        self.tokens = tokens
        self.events = events

    def handle(self, name: str, request: CallbackRequest) -> CallbackResult:
        transport = self.transports.get(name)
        if transport is None:
            raise NotFound("no such transport")
        try:
            result = transport.handle_callback(request, self.tokens)
        except ForgedCallbackError as exc:
            log.warning("refused a callback for %s/%s: %s", name, request.kind, exc)
            raise Forbidden("the callback could not be authenticated") from None
        for event in result.events:
            self.events.apply(event)
        return result
