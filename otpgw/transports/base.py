"""The transport contract: how an SMS leaves otpgw and how its reports come back.

Who calls what:

- The delivery worker builds every transport once, from its own ``[transports.<name>]``
  table (``from_config``), calls ``start(sink)`` once, then ``send(message)`` for each
  attempt the router gives it. ``send`` tries once and returns a ``Receipt`` or raises a
  ``TransportError`` that says whether a retry can help (``retryable``), whether the
  carrier asked everyone to slow down (``ThrottledError``), or whether the carrier may
  have taken the message although no answer came (``OutcomeUnknownError``: retry on the
  same transport, with the same client reference). The worker owns retries, back-off,
  fail-over, breakers and the deadline; a transport never retries on its own.
- Reports and replies that arrive on their own (a modem's ``+CDS`` and ``+CMTI``) go to
  the ``sink`` given to ``start``. Carriers that call back over HTTP do it through the
  API's ``/callbacks/<name>/<kind>`` view, which hands a framework-free
  ``CallbackRequest`` to ``handle_callback``; a forged, stale or replayed one raises
  ``ForgedCallbackError`` and changes nothing.
- Foreign errors (sockets, HTTP, serial) are mapped at this boundary to the most specific
  ``TransportError`` with ``raise ... from exc``; nothing else ever leaves a transport.

A transport that owns a device on one host (a modem) sets ``host_bound``: only a worker
started with ``--transport NAME`` opens it, and messages routed to it travel on that
transport's own lane (see ``otpgw.delivery``).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Protocol

from ..config.options import Options
from ..domain.sms import DeliveryReport, InboundMessage, Message, Receipt

Event = DeliveryReport | InboundMessage
Sink = Callable[[Event], None]


class TransportError(Exception):
    """The message was not accepted. ``retryable``: may a later attempt here succeed?
    ``failover``: may another transport of the route succeed?

    ``code`` is the carrier's own error code ('' if none) and is shown with the
    failure on the code's delivery record.
    """

    retryable = True
    failover = True

    def __init__(self, message: str, *, retryable: bool | None = None, code: str = ""):
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
        self.code = code


class TemporaryTransportError(TransportError):
    """Timeouts, 5xx, a busy modem: try again later, here or on the next transport."""

    retryable = True


class PermanentTransportError(TransportError):
    """Unknown number, rejected content: no attempt anywhere can help."""

    retryable = False
    failover = False


class TransportRefusedError(TransportError):
    """This transport will not take the message (credentials refused, no credit, a
    destination its account cannot reach): retrying it cannot help, but another transport
    of the route may, so a misconfigured carrier never fails a deliverable message."""

    retryable = False
    failover = True


class ThrottledError(TemporaryTransportError):
    """The carrier asked us to slow down: pause this transport for every worker.

    ``retry_after`` is the pause in seconds the carrier named (``Retry-After``), or None.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, code: str = ""):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class OutcomeUnknownError(TemporaryTransportError):
    """The request went out but no answer came: the carrier may have accepted it.

    The worker retries on the *same* transport with the same reference, so a carrier
    that de-duplicates by client reference does not bill or deliver twice.
    """


class ForgedCallbackError(Exception):
    """A callback failed its signature, token or freshness check; answer 403."""


class ReferenceIndex(Protocol):
    """Where a transport keeps which carrier message (or part) belongs to which otpgw
    reference, for reports that name only the carrier's id (a modem's ``+CDS``). The worker
    gives one kept in Redis, so late reports still match after a restart; keys may name a
    phone number (they are stored only as keyed tags)."""

    def put(self, key: str, reference: str, ttl_s: int) -> None: ...

    def get(self, key: str) -> str | None: ...


class CallbackTokens(Protocol):
    """Per-message callback tokens, for carriers that sign nothing (Kannel, http)."""

    def sign(self, transport: str, reference: str) -> str: ...

    def check(self, transport: str, reference: str, token: str) -> bool: ...


@dataclass(frozen=True)
class CallbackRequest:
    """One HTTP call from a carrier, free of any web framework.

    ``url`` is the full public URL the carrier called (what it signed), ``kind`` the
    last path segment (``status``, ``inbound``...), ``form`` the decoded form fields,
    ``json`` the decoded JSON body or None.
    """

    method: str
    url: str
    kind: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    now_ms: int
    json: Any = None


@dataclass(frozen=True)
class CallbackResult:
    """What a callback produced and what to answer the carrier with."""

    events: tuple[Event, ...] = ()
    body: str = ""
    content_type: str = "text/plain"


@dataclass
class TransportHealth:
    """What readiness and metrics show of a transport (never a secret)."""

    ready: bool = True
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


class Transport(abc.ABC):
    """One way out for SMS. Subclasses set ``type_name`` and implement ``send``."""

    type_name: ClassVar[str] = "transport"
    host_bound: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_config(cls, name: str, options: Options) -> "Transport":
        """Build from this transport's own table; a bad value raises SettingsError naming
        ``transports.<name>.<key>``. Transports without options need not override this."""
        options.done()
        return cls(name)

    def use_index(self, index: ReferenceIndex) -> None:
        """Keep carrier-id -> reference mappings in ``index`` (called before ``start``);
        transports whose carriers echo our reference need none."""

    def start(self, sink: Sink) -> None:
        """Begin background work (a modem's reader); events go to ``sink``."""

    @abc.abstractmethod
    def send(self, message: Message) -> Receipt:
        """Submit once; return what the carrier accepted, or raise a TransportError."""

    def handle_callback(self, request: CallbackRequest, tokens: CallbackTokens) -> CallbackResult:
        """Authenticate and parse a carrier's callback; the default accepts none."""
        raise ForgedCallbackError(f"transport {self.name!r} takes no callbacks")

    def check(self) -> None:
        """Raise TransportError if the transport cannot send now (readiness)."""

    def health(self) -> TransportHealth:
        """Readiness facts for ``/readyz`` and metrics; defaults to ``check``."""
        try:
            self.check()
        except TransportError as exc:
            return TransportHealth(False, str(exc))
        return TransportHealth()

    def close(self) -> None:
        """Release connections or devices."""


__all__ = ["ReferenceIndex", "TransportRefusedError", "CallbackRequest", "CallbackResult", "CallbackTokens", "DeliveryReport", "Event",
           "ForgedCallbackError", "InboundMessage", "Message", "Options", "OutcomeUnknownError",
           "PermanentTransportError", "Receipt", "Sink", "TemporaryTransportError", "ThrottledError",
           "Transport", "TransportError", "TransportHealth"]
