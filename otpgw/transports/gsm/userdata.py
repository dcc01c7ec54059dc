"""User data of an SMS PDU: the header (UDH), the text, and the alphabet that carries it.

A long SMS is sent as parts whose user data header holds a concatenation element
(TS 23.040 §9.2.3.24.1, IEI 0x00 with an 8-bit reference, §9.2.3.24.8, IEI 0x08 with a
16-bit one); the handset joins parts with the same reference, sender and total. In GSM-7
the header is followed by fill bits so the first character starts on a septet boundary
(§9.2.3.16): this is where hand-written encoders usually go wrong, so it lives here once,
for both directions. The text tables themselves are ``otpgw.domain.textcodec``'s.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from ...domain.textcodec import (
    Encoding,
    encode_ucs2,
    pack_septets,
    septet_length,
    unpack_septets,
)
from .address import PduError

CONCAT_8BIT, CONCAT_16BIT = 0x00, 0x08
MAX_USER_DATA = 140  # octets


class Alphabet(enum.Enum):
    """The character set a received PDU names in its data coding scheme (TS 23.038 §4)."""

    GSM7 = "gsm7"
    DATA = "8bit"
    UCS2 = "ucs2"


DCS = {Encoding.GSM7: 0x00, Encoding.UCS2: 0x08}


@dataclass(frozen=True)
class Concat:
    """One part's place in a concatenated message: ``seq`` (1-based) of ``total``."""

    reference: int
    total: int
    seq: int
    wide: bool = False  # a 16-bit reference (IEI 0x08) instead of an 8-bit one

    def element(self) -> bytes:
        if self.wide:
            return bytes((CONCAT_16BIT, 4)) + self.reference.to_bytes(2, "big") + bytes((self.total, self.seq))
        return bytes((CONCAT_8BIT, 3, self.reference, self.total, self.seq))


@dataclass(frozen=True)
class UserData:
    """Decoded user data: the text (or, for 8-bit data, its Latin-1 reading) and the part."""

    text: str
    alphabet: Alphabet
    concat: Concat | None = None


def alphabet_of(dcs: int) -> Alphabet:
    """The alphabet of a data coding scheme: general groups 00xx/01xx name it in bits
    3-2, message-waiting groups 1100/1101 are GSM-7 and 1110 UCS-2, group 1111 says
    8-bit in bit 2. Reserved values are read as GSM-7, as §4 asks."""
    group = dcs >> 4
    if group <= 0x7:
        return {1: Alphabet.DATA, 2: Alphabet.UCS2}.get((dcs >> 2) & 0x3, Alphabet.GSM7)
    if group == 0xE:
        return Alphabet.UCS2
    if group == 0xF and dcs & 0x04:
        return Alphabet.DATA
    return Alphabet.GSM7


def header(concat: Concat | None) -> bytes:
    """The user data header with its length octet; empty without concatenation."""
    if concat is None:
        return b""
    element = concat.element()
    return bytes((len(element),)) + element


def encode(text: str, encoding: Encoding, concat: Concat | None) -> tuple[int, bytes]:
    """TP-UDL and TP-UD for one part: UDL counts septets in GSM-7 (header included,
    rounded up with its fill bits) and octets in UCS-2."""
    udh = header(concat)
    if encoding is Encoding.GSM7:
        fill = _fill_bits(len(udh))
        body = pack_septets(text, fill)
        length = (len(udh) * 8 + fill) // 7 + septet_length(text)
    else:
        body = encode_ucs2(text)
        length = len(udh) + len(body)
    if len(udh) + len(body) > MAX_USER_DATA:
        raise PduError(f"user data of {len(udh) + len(body)} octets exceeds {MAX_USER_DATA}")
    return length, udh + body


def decode(data: bytes, length: int, dcs: int, has_header: bool) -> UserData:
    """The text and concatenation element of TP-UD (``length`` is TP-UDL)."""
    alphabet = alphabet_of(dcs)
    udh_size = data[0] + 1 if has_header and data else 0
    if udh_size > len(data):
        raise PduError("user data header runs past the user data")
    concat = _concat(data[1:udh_size]) if udh_size else None
    if alphabet is Alphabet.GSM7:
        fill = _fill_bits(udh_size)
        skipped = (udh_size * 8 + fill) // 7
        try:
            text = unpack_septets(data[udh_size:], max(0, length - skipped), fill)
        except ValueError as exc:
            raise PduError(f"user data: {exc}") from exc
    else:
        body = data[udh_size:length]
        text = _ucs2(body) if alphabet is Alphabet.UCS2 else body.decode("latin-1")
    return UserData(text, alphabet, concat)


def _ucs2(body: bytes) -> str:
    """UTF-16-BE that keeps a surrogate cut off by a part boundary (some phones split
    pairs), so reassembly can join the halves; a stray odd octet is dropped."""
    return body[:len(body) - len(body) % 2].decode("utf-16-be", "surrogatepass")


def _fill_bits(header_octets: int) -> int:
    """Zero bits after a header of that many octets, so the text starts on a septet."""
    return (7 - header_octets * 8 % 7) % 7


def _concat(elements: bytes) -> Concat | None:
    """The concatenation element among the header's information elements, if any."""
    index = 0
    while index + 2 <= len(elements):
        iei, size = elements[index], elements[index + 1]
        value = elements[index + 2:index + 2 + size]
        if len(value) < size:
            raise PduError("information element runs past the user data header")
        if iei == CONCAT_8BIT and size == 3:
            return Concat(value[0], value[1], value[2])
        if iei == CONCAT_16BIT and size == 4:
            return Concat(int.from_bytes(value[:2], "big"), value[2], value[3], wide=True)
        index += 2 + size
    return None
