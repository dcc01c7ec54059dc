"""Addresses and time stamps as SMS PDUs carry them (3GPP TS 23.040 §9.1.2.5, §9.2.3.11).

Phone numbers travel as swapped semi-octets (``+46708251358`` is ``6407281553F8``) after
a type-of-address octet that says whether the number is international, national or an
alphanumeric sender name. The modem transport only ever *sends* to E.164 numbers, but it
*receives* every kind, and a report may name our recipient in national format; so the
decoder keeps the type and ``Address.text`` renders it the way the rest of otpgw expects
(``+`` for international numbers).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ...domain.textcodec import unpack_septets

_BCD_DIGITS = "0123456789*#abc"  # semi-octet values 0x0-0xE; 0xF is the filler


class NumberType(enum.IntEnum):
    """Type of number, bits 6-4 of the type-of-address octet (TS 23.040 §9.1.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK = 3
    SUBSCRIBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6
    RESERVED = 7


INTERNATIONAL_TOA = 0x91  # international number, ISDN/E.164 numbering plan
NATIONAL_TOA = 0x81  # unknown type, ISDN/E.164 numbering plan


class PduError(ValueError):
    """A PDU (or one of its fields) that does not parse: truncated, or values out of range."""


@dataclass(frozen=True)
class Address:
    """A decoded address: ``digits`` (or a sender name) and its type-of-address octet."""

    digits: str
    toa: int

    @property
    def number_type(self) -> NumberType:
        return NumberType((self.toa >> 4) & 0x7)

    @property
    def text(self) -> str:
        """E.164 with ``+`` for an international number; the digits or name otherwise."""
        if self.number_type is NumberType.INTERNATIONAL and not self.digits.startswith("+"):
            return "+" + self.digits
        return self.digits

    def __repr__(self) -> str:  # never the number
        return f"Address(type={self.number_type.name}, length={len(self.digits)})"


def swap_digits(digits: str) -> bytes:
    """Semi-octets, low nibble first, padded with F: ``"123"`` -> ``21 F3``."""
    if not digits.isdigit():
        raise PduError("an address holds digits only")
    padded = digits + "F" * (len(digits) % 2)
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def unswap_digits(data: bytes, count: int) -> str:
    """The first ``count`` semi-octets of ``data`` as digits (``*``, ``#``, ``a``-``c`` too)."""
    nibbles = [n for byte in data for n in (byte & 0x0F, byte >> 4)][:count]
    if 0xF in nibbles:
        raise PduError("filler semi-octet inside an address")
    return "".join(_BCD_DIGITS[n] for n in nibbles)


def encode_address(number: str) -> bytes:
    """A destination address field: semi-octet count, type of address, digits.

    ``+`` marks an international number (type 0x91); otherwise type 0x81.
    """
    international = number.startswith("+")
    digits = number[1:] if international else number
    toa = INTERNATIONAL_TOA if international else NATIONAL_TOA
    return bytes((len(digits), toa)) + swap_digits(digits)


def encode_smsc(number: str) -> bytes:
    """The SMSC field that leads a PDU sent to the modem; ``""`` (one ``00`` octet) means
    "use the SMSC stored on the SIM". Its length counts octets, not semi-octets."""
    if not number:
        return b"\x00"
    body = encode_address(number)[1:]
    return bytes((len(body),)) + body


def decode_address(data: bytes, offset: int) -> tuple[Address, int]:
    """The address field at ``offset`` and the offset just after it."""
    count, toa = _slice(data, offset, 2)
    size = (count + 1) // 2
    body = _slice(data, offset + 2, size)
    if (toa >> 4) & 0x7 == NumberType.ALPHANUMERIC:
        return Address(unpack_septets(body, count * 4 // 7), toa), offset + 2 + size
    return Address(unswap_digits(body, count), toa), offset + 2 + size


def decode_smsc(data: bytes) -> tuple[Address | None, int]:
    """The leading SMSC field (length in octets); None when it is empty (``00``)."""
    (size,) = _slice(data, 0, 1)
    if size == 0:
        return None, 1
    body = _slice(data, 1, size)
    count = max(0, 2 * (size - 1) - (1 if body[-1] >> 4 == 0xF else 0))
    return Address(unswap_digits(body[1:], count), body[0]), 1 + size


def decode_timestamp(data: bytes, offset: int) -> datetime | None:
    """A 7-octet service-centre time stamp (§9.2.3.11) as an aware datetime.

    The last octet is the zone in quarter hours, its bit 3 the sign. Returns None for a
    time stamp that names no real date (some networks send zeros).
    """
    raw = _slice(data, offset, 7)
    fields = [(b & 0x0F) * 10 + (b >> 4) for b in raw[:6]]
    zone = raw[6]
    quarters = (zone & 0x07) * 10 + (zone >> 4)
    offset_minutes = -15 * quarters if zone & 0x08 else 15 * quarters
    year = fields[0] + (2000 if fields[0] < 80 else 1900)  # two digits; networks began in the 1990s
    try:
        return datetime(year, *fields[1:6], tzinfo=timezone(timedelta(minutes=offset_minutes)))
    except ValueError:
        return None


def _slice(data: bytes, offset: int, count: int) -> bytes:
    if offset + count > len(data):
        raise PduError(f"PDU ends at octet {len(data)}, a field needs {offset + count}")
    return data[offset:offset + count]
