"""The states a modem goes through, and what health shows of each.

``ModemState`` is the supervisor's position in its cycle (see ``modem.Modem``)::

    CLOSED -> OPENING -> PROBING -> UNLOCKING -> REGISTERING -> CONFIGURING -> READY
       ^                                                                        |
       +---- BACKOFF <---- (I/O error, hang, vanished port, lost registration) -+
    UNLOCKING -> SIM_BLOCKED   (a PIN we lack, a wrong PIN, a PUK: needs a human)
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass


class ModemState(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"
    PROBING = "probing"
    UNLOCKING = "unlocking"
    REGISTERING = "registering"
    CONFIGURING = "configuring"
    READY = "ready"
    BACKOFF = "backoff"
    SIM_BLOCKED = "sim_blocked"
    STOPPED = "stopped"


class SimState(enum.Enum):
    """What ``AT+CPIN?`` said, and what we made of it."""

    UNKNOWN = "unknown"
    READY = "ready"
    PIN_REQUIRED = "pin_required"  # and no PIN is configured
    WRONG_PIN = "wrong_pin"  # the configured PIN was refused once; not tried again
    PUK_REQUIRED = "puk_required"  # locked after three wrong PINs
    ABSENT = "absent"


class Registration(enum.Enum):
    """``<stat>`` of ``+CREG`` (TS 27.007 §7.2)."""

    NOT_REGISTERED = 0
    HOME = 1
    SEARCHING = 2
    DENIED = 3
    UNKNOWN = 4
    ROAMING = 5

    @property
    def registered(self) -> bool:
        return self in (Registration.HOME, Registration.ROAMING)

    @classmethod
    def of(cls, stat: int) -> "Registration":
        """``<stat>`` values above 5 (SMS-only, CSFB...) are registered variants of 1 and 5."""
        if stat in (6, 9):
            return cls.HOME
        if stat in (7, 10):
            return cls.ROAMING
        return cls(stat) if 0 <= stat <= 5 else cls.UNKNOWN


def csq_dbm(rssi: int) -> int | None:
    """``+CSQ`` rssi to dBm (TS 27.007 §8.5): 0 is -113 or less, 31 is -51 or more, 99 unknown."""
    if not 0 <= rssi <= 31:
        return None
    return -113 + 2 * rssi


@dataclass
class ModemFacts:
    """What health and metrics show of one modem (never a number, never the port)."""

    state: ModemState = ModemState.CLOSED
    sim: SimState = SimState.UNKNOWN
    registration: Registration = Registration.UNKNOWN
    operator: str = ""
    signal_dbm: int | None = None
    model: str = ""
    last_error: str = ""
    failures: int = 0
    resets: int = 0

    def as_dict(self) -> dict:
        facts = asdict(self)
        for key in ("state", "sim", "registration"):
            facts[key] = facts[key].name.lower() if key == "registration" else facts[key].value
        return facts
