"""Transports by type: an alias table of dotted paths, imported only when chosen.

``[transports.<name>] type = "..."`` picks a class here; the class reads the rest of its
table (``Transport.from_config``). An unknown type stops the start with a "did you mean".
"""
from __future__ import annotations

import difflib
import importlib

from ..config import SettingsError, TransportConfig
from .base import (
    CallbackRequest,
    CallbackResult,
    CallbackTokens,
    DeliveryReport,
    Event,
    ForgedCallbackError,
    InboundMessage,
    Message,
    OutcomeUnknownError,
    PermanentTransportError,
    Receipt,
    Sink,
    TemporaryTransportError,
    ThrottledError,
    Transport,
    TransportError,
    TransportHealth,
    TransportRefusedError,
)

TRANSPORTS = {
    "console": "otpgw.transports.console:ConsoleTransport",
    "fake": "otpgw.transports.fake:FakeTransport",
    "fake-device": "otpgw.transports.fake:FakeDeviceTransport",
    "twilio": "otpgw.transports.http.twilio:TwilioTransport",
    "vonage": "otpgw.transports.http.vonage:VonageTransport",
    "kannel": "otpgw.transports.http.kannel:KannelTransport",
    "http": "otpgw.transports.http.generic:TemplatedHttpTransport",
    "modem": "otpgw.transports.gsm.transport:ModemTransport",
}

__all__ = ["TRANSPORTS", "CallbackRequest", "CallbackResult", "CallbackTokens", "DeliveryReport", "Event",
           "ForgedCallbackError", "InboundMessage", "Message", "OutcomeUnknownError", "PermanentTransportError",
           "Receipt", "Sink", "TemporaryTransportError", "ThrottledError", "Transport", "TransportError",
           "TransportHealth", "TransportRefusedError", "build_transport", "transport_class"]


def transport_class(type_name: str, *, setting: str = "OTPGW_TRANSPORT") -> type[Transport]:
    try:
        target = TRANSPORTS[type_name]
    except KeyError:
        close = difflib.get_close_matches(type_name, TRANSPORTS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"{setting}: unknown transport {type_name!r}{hint} "
                            f"(known: {', '.join(sorted(TRANSPORTS))})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_transport(config: TransportConfig) -> Transport:
    """A transport from its table; bad options stop the start naming ``transports.<name>.<key>``."""
    setting = "OTPGW_TRANSPORT" if not config.options and config.name == config.type else \
        f"transports.{config.name}.type"
    return transport_class(config.type, setting=setting).from_config(config.name, config.reader())
