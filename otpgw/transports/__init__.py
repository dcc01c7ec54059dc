"""Transports by name: an alias table of dotted paths, imported only when chosen.

An unknown name stops the start with a "did you mean" sentence.
"""
from __future__ import annotations

import difflib
import importlib

from ..config import SettingsError
from .base import (DeliveryReport, Message, PermanentTransportError, TemporaryTransportError,
                   Transport, TransportError)

TRANSPORTS = {
    "console": "otpgw.transports.console:ConsoleTransport",
    "fake": "otpgw.transports.fake:FakeTransport",
}

__all__ = ["TRANSPORTS", "DeliveryReport", "Message", "PermanentTransportError",
           "TemporaryTransportError", "Transport", "TransportError", "transport_class"]


def transport_class(name: str) -> type[Transport]:
    try:
        target = TRANSPORTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, TRANSPORTS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"OTPGW_TRANSPORT: unknown transport {name!r}{hint} "
                            f"(known: {', '.join(sorted(TRANSPORTS))})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
