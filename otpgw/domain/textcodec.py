"""GSM 03.38 / UCS-2 text knowledge for SMS: pure functions, no I/O.

Why it matters: an SMS is sent in the GSM 7-bit default alphabet only when every
character of it is in that alphabet. One character outside it (a curly quote, an
``á``, an emoji) silently switches the whole message to UCS-2, whose limit is 70
units instead of 160 septets, so the same message may cost two or three segments.
Templates are checked with ``is_gsm7`` and ``segment_count`` for that reason.

The modem transport builds its PDUs on ``pack_septets`` / ``encode_ucs2``. What a
caller may rely on:

- ``GSM7_BASIC`` is the default alphabet indexed by septet (3GPP TS 23.038 §6.2.1);
  ``GSM7_EXTENSION`` maps the characters sent as ESC + code (§6.2.1.1, no national
  language shift tables). Position 0x09 is ``Ç``; a lowercase ``ç`` is not GSM-7.
- An escape pair (GSM-7) or a surrogate pair (UCS-2) is never split across segments.
  Parts of a long message are measured in the encoding of the whole message.
- "UCS-2" here means UTF-16-BE, as every current handset reads it: a character
  outside the BMP takes two units.
"""
from __future__ import annotations

import enum
from collections.abc import Callable

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10; 0x1B is ESC, the switch to the extension table
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESC = 0x1B

GSM7_SINGLE, GSM7_PART = 160, 153  # septets; a part loses 7 to the concatenation header
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units

_SEPTETS: dict[str, tuple[int, ...]] = {
    **{char: (code,) for code, char in enumerate(GSM7_BASIC) if code != ESC},
    **{char: (ESC, code) for char, code in GSM7_EXTENSION.items()},
}
# ESC ESC is reserved for a future table; TS 23.038 says to show a space meanwhile.
_FROM_EXTENSION = {code: char for char, code in GSM7_EXTENSION.items()} | {ESC: " "}


class Encoding(enum.Enum):
    """The alphabet an SMS travels in, chosen for the whole message."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


def is_gsm7(text: str) -> bool:
    """True when every character is in the default alphabet or its extension table."""
    return all(char in _SEPTETS for char in text)


def encoding_for(text: str) -> Encoding:
    return Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2


def _septet_width(char: str) -> int:
    return len(_SEPTETS[char])


def _ucs2_width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def septet_length(text: str) -> int:
    """Septets of a GSM-7 text: an extension character costs two (ESC + code)."""
    return len(to_septets(text))


def ucs2_units(text: str) -> int:
    """UTF-16 code units: a character outside the BMP is a surrogate pair, two units."""
    return sum(_ucs2_width(char) for char in text)


def _measure(encoding: Encoding) -> tuple[Callable[[str], int], int, int]:
    """Width of one character, single-SMS limit and per-part limit."""
    if encoding is Encoding.GSM7:
        return _septet_width, GSM7_SINGLE, GSM7_PART
    return _ucs2_width, UCS2_SINGLE, UCS2_PART


def split_segments(text: str) -> list[str]:
    """The parts a handset receives: one part when the text fits a single SMS, otherwise
    greedy parts of at most 153 septets / 67 units that never split a character's pair."""
    width, single, part = _measure(encoding_for(text))
    if sum(width(char) for char in text) <= single:
        return [text]
    parts, start, used = [], 0, 0
    for index, char in enumerate(text):
        if used + width(char) > part:
            parts.append(text[start:index])
            start, used = index, 0
        used += width(char)
    parts.append(text[start:])
    return parts


def segment_count(text: str) -> int:
    """How many SMS the text costs; an empty text is still one SMS."""
    return len(split_segments(text))


def to_septets(text: str) -> bytes:
    """The unpacked septet stream of a GSM-7 text, one septet per byte."""
    try:
        return bytes(septet for char in text for septet in _SEPTETS[char])
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the GSM 7-bit alphabet") from None


def from_septets(septets: bytes) -> str:
    """Text of a septet stream; an unknown escape shows its default-alphabet character,
    as TS 23.038 asks, and a lone escape at the end is dropped."""
    chars, escaped = [], False
    for septet in septets:
        if escaped:
            chars.append(_FROM_EXTENSION.get(septet, GSM7_BASIC[septet]))
            escaped = False
        elif septet == ESC:
            escaped = True
        else:
            chars.append(GSM7_BASIC[septet])
    return "".join(chars)


def pack_septets(text: str, fill_bits: int = 0) -> bytes:
    """GSM-7 text packed as in an SMS PDU: septets laid end to end, least significant
    bit first, after ``fill_bits`` zero bits (0-6) that align them behind a UDH.

    The result has ``ceil((fill_bits + 7 * septet_length(text)) / 8)`` bytes; unused
    high bits of the last byte are zero. Raises ValueError for a non-GSM-7 character.
    """
    _check_fill(fill_bits)
    septets = to_septets(text)
    stream = sum(septet << (fill_bits + 7 * i) for i, septet in enumerate(septets))
    return stream.to_bytes((fill_bits + 7 * len(septets) + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> str:
    """Text of ``count`` packed septets (the PDU's TP-UDL, escapes included) that start
    after ``fill_bits`` bits of ``data``. The count is needed because seven septets and
    eight (the last one ``@``) pack into the same seven bytes."""
    _check_fill(fill_bits)
    if count < 0 or fill_bits + 7 * count > 8 * len(data):
        raise ValueError(f"{len(data)} bytes cannot hold {count} septets after {fill_bits} fill bits")
    stream = int.from_bytes(data, "little") >> fill_bits
    return from_septets(bytes((stream >> (7 * i)) & 0x7F for i in range(count)))


def _check_fill(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be within 0..6, got {fill_bits}")


def encode_ucs2(text: str) -> bytes:
    """UTF-16-BE bytes, as an SMS with data coding scheme UCS-2 carries them."""
    return text.encode("utf-16-be")


def decode_ucs2(data: bytes) -> str:
    """Text of UTF-16-BE bytes; raises ValueError (UnicodeDecodeError) on malformed data."""
    return data.decode("utf-16-be")
