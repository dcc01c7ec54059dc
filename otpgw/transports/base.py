"""The transport contract: how a queued SMS leaves otpgw.

Only the delivery worker calls a transport, never the request path. For each message it
calls ``send``, which either returns the carrier's id(s) for the message or raises a
``TransportError`` whose ``retryable`` says whether trying again later can help. The
worker owns retries, back-off and the code's deadline; a transport tries once.
Delivery reports, from whatever source, become ``DeliveryReport`` events.
Foreign errors (sockets, HTTP, serial) are mapped here, at the boundary, to the most
specific ``TransportError`` with ``raise ... from exc``.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    destination: str  # E.164
    text: str
    reference: str  # the code id; carriers echo it in delivery reports
    deadline_ms: int  # epoch ms after which the code is dead and must not be delivered

    def __repr__(self) -> str:  # never show the number or the text (it holds the code)
        return f"Message(reference={self.reference!r}, deadline_ms={self.deadline_ms})"


@dataclass(frozen=True)
class DeliveryReport:
    reference: str  # the code id
    status: str  # sent | delivered | undelivered | failed
    transport: str
    carrier_id: str = ""
    detail: str = ""


class TransportError(Exception):
    """The message was not accepted. ``retryable``: may a later attempt succeed?"""

    retryable = True

    def __init__(self, message: str, *, retryable: bool | None = None):
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class TemporaryTransportError(TransportError):
    """Timeouts, 5xx, a busy modem: try again later."""

    retryable = True


class PermanentTransportError(TransportError):
    """Unknown number, rejected content, a carrier 4xx: retrying cannot help."""

    retryable = False


class Transport(abc.ABC):
    """One way out for SMS. Subclasses set ``name`` and implement ``send``."""

    name = "transport"

    @classmethod
    def from_settings(cls, settings) -> "Transport":
        """Build from Settings; transports with options read theirs here."""
        return cls()

    @abc.abstractmethod
    def send(self, message: Message) -> tuple[str, ...]:
        """Submit once; return the carrier's message id(s) (one per segment if several)."""

    def check(self) -> None:
        """Raise TransportError if the transport cannot send now (readiness)."""

    def close(self) -> None:
        """Release connections or devices."""
