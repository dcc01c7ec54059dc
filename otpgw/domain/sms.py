"""What travels through the SMS pipeline: a message out, its receipt, reports and replies in.

These are plain values shared by the delivery worker, every transport, the callback
views and the store. None of them prints a phone number or a text in its ``repr``:
the text of an OTP message holds the code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .outcomes import DeliveryStatus, RecordKind
from .textcodec import Encoding, encoding_for, segment_count


@dataclass(frozen=True)
class Message:
    """One SMS as a transport submits it.

    ``reference`` is otpgw's id for it (a code id or a message id); carriers echo it in
    delivery reports where they can. ``deadline_ms`` is the epoch ms after which the
    message must not be delivered (a dead code); a transport passes the time left as the
    carrier's validity period. ``callback_url`` is the base URL of this transport's
    callback endpoint ('' when no public URL is configured) and ``callback_token`` a
    per-message token the callback view checks, for carriers that sign nothing.
    """

    destination: str  # E.164
    text: str
    reference: str
    deadline_ms: int
    sender: str = ""  # a sender id for this message; '' = the transport's own
    callback_url: str = ""
    callback_token: str = ""

    @property
    def encoding(self) -> Encoding:
        return encoding_for(self.text)

    @property
    def parts(self) -> int:
        return segment_count(self.text)

    def validity_s(self, now_ms: int) -> int:
        """Seconds left before the deadline (at least 1): the carrier's validity period."""
        return max(1, (self.deadline_ms - now_ms) // 1000)

    def __repr__(self) -> str:  # never the number or the text (it holds the code)
        return f"Message(reference={self.reference!r}, deadline_ms={self.deadline_ms})"


@dataclass(frozen=True)
class Receipt:
    """What a transport answers when it accepted a message.

    ``carrier_ids`` are the carrier's ids (one per part when the carrier gives one per
    part; empty when it gives none, as Kannel); ``parts`` and ``encoding`` are what was
    actually submitted.
    """

    carrier_ids: tuple[str, ...]
    parts: int = 1
    encoding: Encoding = Encoding.GSM7

    @classmethod
    def for_message(cls, message: Message, carrier_ids: tuple[str, ...] | list[str]) -> "Receipt":
        return cls(tuple(carrier_ids), message.parts, message.encoding)


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery event from any source (carrier callback, modem ``+CDS``, the worker).

    ``reference`` is otpgw's id when the source knows it; otherwise ``carrier_id``
    identifies the message (or one part of it). ``error_code`` is the carrier's own code
    for a failure, ``detail`` a short human text (digit runs are redacted on storage).
    """

    transport: str
    status: DeliveryStatus
    reference: str = ""
    carrier_id: str = ""
    error_code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """An SMS a handset sent to us (a STOP, a reply). ``sender`` is E.164."""

    transport: str
    sender: str
    text: str
    carrier_id: str = ""
    recipient: str = ""  # our number or short code it was sent to, when known
    received_ms: int = 0
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        return f"InboundMessage(transport={self.transport!r}, carrier_id={self.carrier_id!r})"


@dataclass(frozen=True)
class QueuedMessage:
    """A message waiting on a lane, as a worker reads it (the number and text sealed).

    ``attempt`` counts the attempts made so far; ``step`` is the position in the route's
    list of transports to try next (fail-over moves it on); ``pin`` names the one
    transport a retry must use (after an answer that never came); ``home`` is the shared
    lane the message belongs to, so a message handed to a host-bound transport's lane
    can come back to it. ``kind`` says what ``reference`` names: a code (its record is
    found by the id) or a message of a batch (``/messages``); a message also carries
    ``tag``, its recipient's keyed tag (the opt-out checked before each attempt), and once
a rate-limited transport has given it a ``turn``, that time.
    """

    entry_id: str
    lane: str
    reference: str
    sealed: str
    deadline_ms: int
    attempt: int = 0
    step: int = 0
    pin: str = ""
    home: str = "otp"
    kind: RecordKind = RecordKind.CODE
    tag: str = ""
    turn: int = 0  # a message's turn at a rate-limited transport's tokens (epoch ms; 0: none)

    def fields(self, **changes: object) -> dict[str, str]:
        """The stream fields of this message (with ``changes``), as strings."""
        values = {"id": self.reference, "sealed": self.sealed, "deadline": self.deadline_ms,
                  "attempt": self.attempt, "step": self.step, "pin": self.pin, "home": self.home,
                  **({"kind": self.kind.value, "tag": self.tag, "turn": self.turn}
                     if self.kind is RecordKind.MESSAGE else {}),
                  **changes}
        return {name: str(value) for name, value in values.items()}

    @classmethod
    def from_fields(cls, entry_id: str, lane: str, fields: dict[str, str]) -> "QueuedMessage":
        return cls(entry_id, lane, fields["id"], fields["sealed"], int(fields["deadline"]),
                   int(fields.get("attempt", 0)), int(fields.get("step", 0)), fields.get("pin", ""),
                   fields.get("home", lane), RecordKind(fields.get("kind", "code")), fields.get("tag", ""),
                   int(fields.get("turn", 0)))

    @property
    def is_message(self) -> bool:
        return self.kind is RecordKind.MESSAGE

    def __repr__(self) -> str:
        return f"QueuedMessage(reference={self.reference!r}, lane={self.lane!r}, attempt={self.attempt})"
