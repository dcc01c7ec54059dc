"""A modem's incoming traffic: status reports and SMS, turned into sink events.

How each arrives (as ``AT+CNMI`` routed it) and what is done with it:

- ``+CMTI: "SM",3``: read with ``AT+CMGR``, hand on, then delete with ``AT+CMGD``. A
  message the sink refused stays stored and is read again by the next start-up drain.
- ``+CMT`` (direct): hand on, then ``AT+CNMA`` when the modem expects acknowledgements.
- ``+CDS`` (direct, two lines in PDU mode): match, hand on, ``AT+CNMA`` likewise.
- ``+CDSI: "SR",2``: read, match, hand on, delete.

Concatenated SMS are reassembled first; undecodable PDUs are logged and deleted, so one
bad message cannot block the storage.
"""
from __future__ import annotations

import functools
import logging
import re
import time
from typing import Callable

from ...domain.sms import DeliveryReport, InboundMessage
from . import pdu, textmode
from .address import PduError
from .at import Urc, UrcKind
from .errors import CommandError
from .inbound import Assembled, Reassembler
from .reports import DeliveryLedger
from .session import ModemSession

log = logging.getLogger("otpgw.transports.gsm")
_SLOT = re.compile(r':\s*"?([A-Za-z]*)"?\s*,\s*(\d+)')
Event = DeliveryReport | InboundMessage


class Inbox:
    def __init__(self, transport: str, modem_id: str, ledger: DeliveryLedger, reassembly_timeout: float,
                 clock_ms: Callable[[], int]):
        self.transport, self.modem_id = transport, modem_id
        self.ledger = ledger
        self.reassembler = Reassembler(reassembly_timeout)
        self.clock_ms = clock_ms
        self.sink: Callable[[Event], None] | None = None

    def handle(self, session: ModemSession, urc: Urc) -> None:
        """One URC of the four kinds above; ``ModemError`` means the session is unwell."""
        if urc.kind in (UrcKind.MESSAGE_STORED, UrcKind.REPORT_STORED):
            slot = _SLOT.search(urc.line)
            if slot:
                self._stored(session, slot.group(1), int(slot.group(2)), urc.kind is UrcKind.REPORT_STORED)
        elif urc.kind in (UrcKind.MESSAGE, UrcKind.REPORT):
            self._direct(session, urc)

    def drain(self, session: ModemSession) -> None:
        """Messages and reports stored while nobody listened (PDU mode)."""
        if session.text_mode:
            return
        for index, head, body in session.listing(""):
            self._process(session, "", index, functools.partial(pdu.decode, body, _last_int(head)))

    def expire(self) -> None:
        """Hand on inbound messages whose missing parts are overdue."""
        for assembled in self.reassembler.expire(time.monotonic()):
            self._emit(self._inbound_event(assembled))

    def _stored(self, session: ModemSession, mem: str, index: int, report: bool) -> None:
        try:
            lines = session.read(mem, index)
        except CommandError as exc:
            log.info("%s: stored message %s%d unreadable (%s)", self.modem_id, mem, index, exc.code or "ERROR")
            return
        decode = _decoder(lines, session.text_mode, report)
        if decode is not None:
            self._process(session, mem, index, decode)

    def _process(self, session: ModemSession, mem: str, index: int, decode: Callable[[], pdu.Decoded]) -> None:
        try:
            decoded = decode()
        except (PduError, ValueError) as exc:
            log.warning("%s: undecodable stored message %s%d deleted: %s", self.modem_id, mem, index, exc)
            session.delete(mem, index)
            return
        if self._dispatch(decoded, f"{mem}{index}"):
            session.delete(mem, index)

    def _direct(self, session: ModemSession, urc: Urc) -> None:
        try:
            if session.text_mode:
                decoded = textmode.status_report(urc.line) if urc.kind is UrcKind.REPORT else \
                    textmode.message(urc.line, urc.body)
            else:
                decoded = pdu.decode(urc.body, _last_int(urc.line))
        except (PduError, ValueError) as exc:
            log.warning("%s: undecodable %s dropped: %s", self.modem_id, urc.kind.value, exc)
            decoded = None
        if decoded is not None:
            self._dispatch(decoded, "direct")
        session.ack()

    def _dispatch(self, decoded: pdu.Decoded, slot: str) -> bool:
        """Hand a decoded PDU on; False if the sink failed (keep it stored)."""
        if isinstance(decoded, pdu.StatusReport):
            event = self.ledger.report(self.modem_id, decoded)
            if event is None:
                log.info("%s: status report 0x%02X for no part we remember", self.modem_id, decoded.status)
                return True
            return self._emit(event)
        if isinstance(decoded, pdu.Deliver):
            assembled = self.reassembler.add(decoded, slot, time.monotonic())
            return self._emit(self._inbound_event(assembled)) if assembled else True
        return True  # a stored SMS-SUBMIT: not ours to handle

    def _inbound_event(self, assembled: Assembled) -> InboundMessage:
        """The carrier id names modem, time stamp, concatenation reference and storage
        slot, so re-reading the same stored message gives the same id; never a number."""
        stamp = int(assembled.timestamp.timestamp()) if assembled.timestamp else self.clock_ms() // 1000
        extra = {} if assembled.total == 1 else {"parts": f"{assembled.received}/{assembled.total}"}
        return InboundMessage(self.transport, assembled.sender.text, assembled.text,
                              f"{self.modem_id}:mt:{stamp}:{assembled.reference}:{assembled.slot}",
                              received_ms=self.clock_ms(), extra=extra)

    def _emit(self, event: Event) -> bool:
        if self.sink is None:
            log.warning("%s: %s before start(); dropped", self.modem_id, type(event).__name__)
            return False
        try:
            self.sink(event)
        except Exception:  # the sink is the worker's; its failure must not stop the modem
            log.exception("%s: sink failed for %r", self.modem_id, event)
            return False
        return True


def _decoder(lines: list[str], text_mode: bool, report: bool) -> Callable[[], pdu.Decoded] | None:
    """How to decode ``+CMGR``'s lines: header and PDU, header and text, or (a status
    report in text mode) the header alone; None when the slot was empty."""
    if text_mode and report and lines:
        return functools.partial(textmode.status_report, lines[0])
    if len(lines) < 2:
        return None
    if text_mode:
        return functools.partial(textmode.message, lines[0], lines[1])
    return functools.partial(pdu.decode, lines[1], _last_int(lines[0]))


def _last_int(header: str) -> int | None:
    numbers = re.findall(r"\d+", header.split(":", 1)[-1])
    return int(numbers[-1]) if numbers else None
