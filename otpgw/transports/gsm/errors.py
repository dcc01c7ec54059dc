"""What goes wrong between otpgw and a modem, and what each failure means for a send.

Inside this package failures are ``ModemError``s; ``transport_error`` maps one to the
contract's ``TransportError`` tree where it leaves (``Modem.send``). The classification
of ``+CMS ERROR`` codes follows TS 27.005 §3.2.5, which takes 0-127 from TS 24.011
Annex E-2 (RP-cause), 128-255 from TS 23.040 §9.2.3.22 (TP-FCS) and defines 300-500:

- permanent: the number or the message is refused and resending cannot help
  (1 unassigned number, 21 transfer rejected, 96 invalid information, 304 bad PDU...);
- refused: this SIM or its SMSC will not take it (8 and 10 barred, 50 not subscribed,
  0xC1 no SMSC subscription, 0xC6/0xC7 validity format, 330 no SMSC address): never
  retried here, but another transport of the route may deliver it;
- temporary: the network is busy or out of reach (38, 41, 42, 47, 331, 332...), so the
  worker backs off or fails over;
- modem trouble: the modem itself is unwell (300 ME failure, 500 unknown, a SIM error, a
  bare ``ERROR``): temporary for the message, and counted so that repeated trouble
  reinitialises the modem.

Codes not listed are temporary: a retry elsewhere is cheap, a lost OTP is not.
"""
from __future__ import annotations

import enum

from ..base import (
    OutcomeUnknownError,
    PermanentTransportError,
    TemporaryTransportError,
    TransportError,
    TransportRefusedError,
)
from .state import SimState

PERMANENT_CMS = frozenset({1, 21, 28, 29, 30, 95, 96, 97, 98, 99, 111, 127, *range(0x80, 0xC0), 0xC3, 0xC4, 0xC5,
                           304, 305})
REFUSED_CMS = frozenset({8, 10, 50, 69, 0xC1, 0xC6, 0xC7, 330})
TEMPORARY_CMS = frozenset({17, 22, 27, 38, 41, 42, 47, 0xC0, 0xC2, 314, 331, 332})
TROUBLE_CMS = frozenset({*range(0xD0, 0xD6), 0xFF, 300, 301, 302, 303, 310, 311, 312, 313, 315, 316, 317, 318,
                         320, 321, 322, 340, 500})
TEMPORARY_CME = frozenset({30, 31, 32, 14})  # no network service, network timeout, emergency only, SIM busy


class Family(enum.Enum):
    """Which final result code reported a failure."""

    CMS = "CMS"  # +CMS ERROR: message service
    CME = "CME"  # +CME ERROR: equipment
    PLAIN = "ERROR"  # no code (verbose errors off, or a command the modem does not know)


class Fault(enum.Enum):
    """What a failure means for the message and the modem; also the metric label ``kind``."""

    PERMANENT = "permanent"
    REFUSED = "refused"
    TEMPORARY = "temporary"
    TROUBLE = "modem"
    TIMEOUT = "timeout"
    NO_PROMPT = "no_prompt"
    OUTCOME_UNKNOWN = "outcome_unknown"
    PORT = "port"
    SIM = "sim"
    REGISTRATION = "registration"
    RESET = "reset"


class ModemError(Exception):
    """A modem or its port failed; ``fault`` says what that means."""

    fault = Fault.TROUBLE


class PortError(ModemError):
    """The port cannot be opened, read or written: unplugged, vanished, I/O error."""

    fault = Fault.PORT


class CommandTimeout(ModemError):
    """No final result code came in time: a hung or desynchronised modem."""

    fault = Fault.TIMEOUT


class PromptMissing(ModemError):
    """``AT+CMGS`` got no ``>`` prompt, so no PDU was written (the send was cancelled)."""

    fault = Fault.NO_PROMPT


class ReplyLost(ModemError):
    """The PDU was written but ``+CMGS`` never came: the SMS may have left."""

    fault = Fault.OUTCOME_UNKNOWN


class SimError(ModemError):
    """The SIM needs a human: a PIN we do not have, a wrong PIN, a PUK, no SIM."""

    fault = Fault.SIM

    def __init__(self, message: str, state: SimState):
        super().__init__(message)
        self.state = state


class RegistrationError(ModemError):
    """The modem did not register on a network in time, or registration was denied."""

    fault = Fault.REGISTRATION


class CommandError(ModemError):
    """A command ended in ``ERROR``, ``+CMS ERROR: n`` or ``+CME ERROR: n``."""

    def __init__(self, command: str, family: Family, number: int | None, text: str = ""):
        self.command, self.family, self.number = command, family, number
        super().__init__(f"{command.split('=')[0]} failed: {self.code or 'ERROR'}{' ' + text if text else ''}")
        self.fault = classify(family, number)

    @property
    def code(self) -> str:
        """The code as shown on a delivery record: ``"CMS 304"``; ``""`` for bare ERROR."""
        return "" if self.number is None else f"{self.family.value} {self.number}"


def classify(family: Family, number: int | None) -> Fault:
    """The fault of a final error result (see the module docstring for the tables)."""
    if family is Family.CMS and number is not None:
        if number in PERMANENT_CMS:
            return Fault.PERMANENT
        if number in REFUSED_CMS:
            return Fault.REFUSED
        return Fault.TROUBLE if number in TROUBLE_CMS else Fault.TEMPORARY
    if family is Family.CME and number in TEMPORARY_CME:
        return Fault.TEMPORARY
    return Fault.TROUBLE


def transport_error(exc: ModemError, where: str) -> TransportError:
    """The contract's error for a failed send on modem ``where``; raise it ``from exc``."""
    message = f"modem {where}: {exc}"
    code = exc.code if isinstance(exc, CommandError) else ""
    if exc.fault is Fault.PERMANENT:
        return PermanentTransportError(message, code=code)
    if exc.fault is Fault.REFUSED:
        return TransportRefusedError(message, code=code)
    if exc.fault is Fault.OUTCOME_UNKNOWN:
        return OutcomeUnknownError(message, code=code)
    return TemporaryTransportError(message, code=code)
