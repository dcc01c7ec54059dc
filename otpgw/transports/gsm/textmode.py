"""Text mode (``AT+CMGF=1``, TS 27.005 §3.1) for modems that cannot take PDUs.

Strings cross the line in the UCS2 character set (``AT+CSCS="UCS2"``, hex of UTF-16-BE),
because in the GSM set Ctrl-Z and ESC are characters of the alphabet and would end or
cancel a message. What text mode cannot do: a user data header, so long messages go out
as separate SMS; and validity periods under five minutes (``AT+CSMP`` takes the relative
format only here), so those are sent with the five-minute minimum.
"""
from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta, timezone

from .address import INTERNATIONAL_TOA, NATIONAL_TOA, Address, PduError
from .pdu import MIN_RELATIVE_S, Deliver, StatusReport, relative_validity
from .userdata import UserData, alphabet_of

_STAMP = re.compile(r"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d+)?")


def to_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def from_hex(value: str) -> str:
    """A UCS2-hex string back to text; anything that is not such hex is returned as is."""
    if value and len(value) % 4 == 0 and re.fullmatch(r"[0-9A-Fa-f]+", value):
        return bytes.fromhex(value).decode("utf-16-be", "replace")
    return value


def csmp(validity_s: int, report: bool, dcs: int) -> str:
    """``AT+CSMP`` arguments: SMS-SUBMIT with a relative validity period (and TP-SRR)."""
    first = 0x01 | 0x10 | (0x20 if report else 0)
    return f"{first},{relative_validity(max(validity_s, MIN_RELATIVE_S))},0,{dcs}"


def fields(line: str) -> list[str]:
    """The comma-separated values after ``+XXX:``, unquoted (a quoted time holds a comma)."""
    return [value.strip() for value in next(csv.reader([line.split(":", 1)[1].strip()]))]


def address(value: str, toa: str = "") -> Address:
    """A number as the modem shows it: UCS2 hex, or plain digits (some modems never hex them)."""
    decoded = from_hex(value)
    number = decoded if re.fullmatch(r"\+?[0-9*#]+", decoded) else value
    international = number.startswith("+") or toa == str(INTERNATIONAL_TOA)
    return Address(number.lstrip("+"), INTERNATIONAL_TOA if international else NATIONAL_TOA)


def stamp(value: str) -> datetime | None:
    match = _STAMP.fullmatch(value)
    if not match:
        return None
    yy, mo, dd, hh, mi, ss, zone = match.groups()
    tz = timezone(timedelta(minutes=15 * int(zone or 0)))
    return datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), tzinfo=tz)


def status_report(line: str) -> StatusReport:
    """``+CDS: <fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>``; read from storage, ``+CMGR``
    puts ``<stat>`` in front."""
    values = fields(line)
    if line.upper().startswith("+CMGR"):
        values = values[1:]
    if len(values) < 7:
        raise PduError("text-mode status report has too few fields")
    return StatusReport(None, int(values[1]), address(values[2], values[3]), stamp(values[4]), stamp(values[5]),
                        int(values[6]))


def message(header: str, body: str) -> Deliver:
    """``+CMGR: <stat>,<oa>,[<alpha>],<scts>`` or ``+CMT: <oa>,[<alpha>],<scts>`` and the text."""
    values = fields(header)
    if header.upper().startswith("+CMGR"):
        values = values[1:]
    if len(values) < 3:
        raise PduError("text-mode message header has too few fields")
    return Deliver(None, address(values[0]), stamp(values[2]), 0x08, UserData(from_hex(body), alphabet_of(0x08)))
