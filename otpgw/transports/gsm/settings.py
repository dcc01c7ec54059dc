"""The ``[transports.<name>]`` table of a modem transport, read once and frozen.

Every key, its default and why (times in seconds)::

    type = "modem"
    port = "/dev/serial/by-id/..."   # or any pyserial URL (socket://, rfc2217://)
    ports = ["/dev/...", "/dev/..."] # instead of port: a pool behind one name
    baudrate = 115200                # tried first...
    fallback_baudrates = [115200, 9600, 57600, 38400, 19200]  # ...then these, if AT gets no answer
    pin = ""                         # only if the SIM asks; a wrong PIN is never retried
    smsc = ""                        # SMS centre for each PDU; "" = the SIM's
    mode = "pdu"                     # "text" for modems without PDU mode (no concatenation)
    status_reports = true            # ask for TP-SRR and route +CDS
    report_ack = "auto"              # AT+CNMA after +CDS/+CMT: auto (when AT+CSMS=1 took), on, off
    cnmi = ""                        # AT+CNMI value; "" = "2,1,0,1,0" (or "2,1,0,0,0" without reports)
    strategy = "round_robin"         # pool: round_robin or least_busy
    command_timeout = 5              # an ordinary command's reply
    send_timeout = 60                # +CMGS after the PDU (real networks take 2-10 s, rarely 60)
    ready_wait = 5                   # how long a send waits for a modem that is not ready yet
    keepalive = 30                   # AT+CSQ / AT+CREG? watchdog interval
    registration_timeout = 90        # network registration before the modem is reopened
    reopen_backoff = 1               # first pause before reopening; doubles...
    reopen_backoff_max = 60          # ...up to this
    reset_command = ""               # e.g. "AT+CFUN=1,1"; sent after reset_after failures in a row
    reset_after = 3
    reset_wait = 15                  # the modem reboots (and may re-enumerate) meanwhile
    validity_max = 86400             # cap on the validity period; never more than the code's life left
    enhanced_validity = true         # under 5 minutes use the enhanced VP format (else 5 minutes)
    concat_reference = 8             # 8- or 16-bit concatenation reference
    report_window = 3600             # how long after a message's validity a report still matches
    reassembly_timeout = 300         # give up waiting for the missing parts of an inbound SMS
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from ...config import parsers
from ...config.options import Options

DEFAULT_CNMI, DEFAULT_CNMI_NO_REPORTS = "2,1,0,1,0", "2,1,0,0,0"


class Mode(enum.Enum):
    PDU = "pdu"
    TEXT = "text"


class AckMode(enum.Enum):
    """Whether ``+CDS`` / ``+CMT`` are acknowledged with ``AT+CNMA`` (TS 27.005 §3.4.4)."""

    AUTO = "auto"  # when AT+CSMS=1 (phase 2+) was accepted: then the network waits for it
    ON = "on"
    OFF = "off"


class Strategy(enum.Enum):
    ROUND_ROBIN = "round_robin"
    LEAST_BUSY = "least_busy"


@dataclass(frozen=True)
class ModemSettings:
    ports: tuple[str, ...]
    baudrate: int = 115200
    fallback_baudrates: tuple[int, ...] = (115200, 9600, 57600, 38400, 19200)
    pin: str = ""
    smsc: str = ""
    mode: Mode = Mode.PDU
    status_reports: bool = True
    report_ack: AckMode = AckMode.AUTO
    cnmi: str = ""
    strategy: Strategy = Strategy.ROUND_ROBIN
    command_timeout: float = 5.0
    send_timeout: float = 60.0
    ready_wait: float = 5.0
    keepalive: float = 30.0
    registration_timeout: float = 90.0
    registration_poll: float = 1.0
    reopen_backoff: float = 1.0
    reopen_backoff_max: float = 60.0
    reset_command: str = ""
    reset_after: int = 3
    reset_wait: float = 15.0
    validity_max: int = 86400
    enhanced_validity: bool = True
    concat_reference: int = 8
    report_window: int = 3600
    reassembly_timeout: float = 300.0

    @property
    def cnmi_value(self) -> str:
        return self.cnmi or (DEFAULT_CNMI if self.status_reports else DEFAULT_CNMI_NO_REPORTS)

    @classmethod
    def from_options(cls, options: Options) -> "ModemSettings":
        """Read and check the table; a bad value names ``transports.<name>.<key>``."""
        values = {"ports": _ports(options), **_connection(options), **_behaviour(options), **_timing(options)}
        options.done()
        return cls(**values)


def _ports(options: Options) -> tuple[str, ...]:
    port = options.str("port", "")
    ports = options.list("ports", ())
    if bool(port) == bool(ports):
        raise options.fail("port", "set either port (one modem) or ports (a pool), not both or neither")
    if len(set(ports)) != len(ports):
        raise options.fail("ports", "a port is listed twice")
    return (port,) if port else ports


def _connection(options: Options) -> dict:
    return {
        "baudrate": options.int("baudrate", 115200, low=300, high=4_000_000),
        "fallback_baudrates": options.list("fallback_baudrates", (115200, 9600, 57600, 38400, 19200),
                                           item=parsers.integer(300, 4_000_000)),
        "pin": options.str("pin", "", pattern=r"\d{4,8}", hint="a SIM PIN is 4 to 8 digits"),
        "smsc": options.str("smsc", "", pattern=r"\+\d{3,15}", hint="an E.164 number like +491710760000"),
        "mode": Mode(options.str("mode", "pdu", choices=tuple(m.value for m in Mode))),
        "reset_command": options.str("reset_command", "", pattern=r"AT\S*", upper=True,
                                     hint="an AT command such as AT+CFUN=1,1"),
        "cnmi": options.str("cnmi", "", pattern=r"[0-3](,[0-3]?){0,4}", hint="such as 2,1,0,1,0"),
    }


def _behaviour(options: Options) -> dict:
    return {
        "status_reports": options.bool("status_reports", True),
        "report_ack": AckMode(options.str("report_ack", "auto", choices=tuple(m.value for m in AckMode))),
        "strategy": Strategy(options.str("strategy", "round_robin", choices=tuple(s.value for s in Strategy))),
        "enhanced_validity": options.bool("enhanced_validity", True),
        "concat_reference": options.get("concat_reference", _reference_bits, 8),
        "validity_max": options.int("validity_max", 86400, low=60, high=63 * 7 * 86400),
        "reset_after": options.int("reset_after", 3, low=1, high=100),
    }


def _timing(options: Options) -> dict:
    seconds = {"command_timeout": 5.0, "send_timeout": 60.0, "ready_wait": 5.0, "keepalive": 30.0,
               "registration_timeout": 90.0, "reopen_backoff": 1.0, "reopen_backoff_max": 60.0, "reset_wait": 15.0,
               "reassembly_timeout": 300.0}
    values = {key: options.float(key, default, low=0.01, high=86400) for key, default in seconds.items()}
    values["report_window"] = options.int("report_window", 3600, low=0, high=7 * 86400)
    return values


def _reference_bits(value: object) -> int:
    if value not in (8, 16):
        raise ValueError(f"{value!r} is not 8 or 16")
    return int(value)
