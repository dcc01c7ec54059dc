"""SMS PDUs (3GPP TS 23.040): SMS-SUBMIT out; SMS-DELIVER and SMS-STATUS-REPORT in.

Pure functions over bytes and hex, no I/O, so the codec is checked against published
PDUs. A PDU as the modem takes it (``AT+CMGS`` in PDU mode, TS 27.005 §3.5.1) starts
with the SMSC field; ``AT+CMGS=<n>`` names the length of what follows it, which is why
``SubmitPdu`` carries both.

What a caller may rely on:

- ``submit_parts`` splits a text exactly as ``textcodec.split_segments`` does (8-bit
  concatenation reference) or at 152 septets / 66 units (16-bit reference, one octet more
  of header). Escape pairs and surrogate pairs are never split.
- The validity period written is never longer than the ``validity_s`` asked for: the
  relative format (§9.2.3.12.1) is rounded *down*; under five minutes, which the
  relative format cannot say, the enhanced format (§9.2.3.12.3) carries the seconds.
- ``decode`` reads SMS-DELIVER, SMS-SUBMIT (what the tests read back from the simulated
  modem) and SMS-STATUS-REPORT, with or without the leading SMSC field.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...domain.textcodec import (
    Encoding,
    encoding_for,
    septet_length,
    split_segments,
    ucs2_units,
)
from . import userdata
from .address import (
    Address,
    PduError,
    decode_address,
    decode_smsc,
    decode_timestamp,
    encode_address,
    encode_smsc,
)
from .userdata import Concat, UserData

MTI_DELIVER, MTI_SUBMIT, MTI_STATUS_REPORT = 0b00, 0b01, 0b10
VPF_NONE, VPF_ENHANCED, VPF_RELATIVE, VPF_ABSOLUTE = 0b00, 0b01, 0b10, 0b11
MIN_RELATIVE_S = 300  # VP 0 is five minutes
MAX_RELATIVE_S = 63 * 7 * 86400  # VP 255 is 63 weeks
WIDE_PART_SEPTETS, WIDE_PART_UNITS = 152, 66


@dataclass(frozen=True)
class SubmitPdu:
    """One part ready for ``AT+CMGS=<length>``: the hex (SMSC field first) and TPDU octets."""

    hex: str
    length: int


@dataclass(frozen=True)
class Submit:
    """A decoded SMS-SUBMIT. ``validity`` is seconds (relative, enhanced), a datetime
    (absolute) or None (none given)."""

    smsc: Address | None
    reference: int
    destination: Address
    validity: int | datetime | None
    report_requested: bool
    reject_duplicates: bool
    dcs: int
    user_data: UserData
    udl: int


@dataclass(frozen=True)
class Deliver:
    """A decoded SMS-DELIVER: a message a handset (or a service) sent to our SIM."""

    smsc: Address | None
    sender: Address
    timestamp: datetime | None
    dcs: int
    user_data: UserData


@dataclass(frozen=True)
class StatusReport:
    """A decoded SMS-STATUS-REPORT: the fate of the submit with TP-MR ``reference``.

    ``submitted`` is when the SMSC took the message, ``discharged`` when it delivered it
    or gave up; ``status`` is TP-ST (§9.2.3.15).
    """

    smsc: Address | None
    reference: int
    recipient: Address
    submitted: datetime | None
    discharged: datetime | None
    status: int


Decoded = Submit | Deliver | StatusReport


def relative_validity(seconds: int) -> int:
    """The largest TP-VP octet (relative format) whose period is at most ``seconds``;
    ``seconds`` must be at least five minutes."""
    if seconds < MIN_RELATIVE_S:
        raise ValueError(f"a relative validity period is at least {MIN_RELATIVE_S} s")
    minutes = seconds // 60
    if minutes <= 12 * 60:
        return minutes // 5 - 1  # 0-143: (VP + 1) x 5 minutes
    if minutes < 24 * 60 + 24 * 60:
        return 143 + min(24, (minutes - 12 * 60) // 30)  # 144-167: 12 h + (VP - 143) x 30 min
    if seconds < 35 * 86400:
        return 166 + min(30, seconds // 86400)  # 168-196: (VP - 166) days
    return 192 + min(63, seconds // (7 * 86400))  # 197-255: (VP - 192) weeks


def relative_seconds(vp: int) -> int:
    """The period a relative TP-VP octet stands for, in seconds."""
    if vp <= 143:
        return (vp + 1) * 300
    if vp <= 167:
        return 12 * 3600 + (vp - 143) * 1800
    if vp <= 196:
        return (vp - 166) * 86400
    return (vp - 192) * 7 * 86400


def validity_field(seconds: int | None, *, enhanced: bool = True) -> tuple[int, bytes]:
    """TP-VPF and TP-VP for a validity of ``seconds`` (None: no validity period).

    Under five minutes the enhanced format says it exactly (integer seconds up to 255,
    else HH:MM:SS semi-octets); with ``enhanced=False`` it falls back to the relative
    minimum of five minutes, for an SMSC that refuses the enhanced format.
    """
    if seconds is None:
        return VPF_NONE, b""
    seconds = max(0, min(seconds, MAX_RELATIVE_S))
    if seconds >= MIN_RELATIVE_S or not enhanced:
        return VPF_RELATIVE, bytes((relative_validity(max(seconds, MIN_RELATIVE_S)),))
    if seconds <= 255:
        return VPF_ENHANCED, bytes((0x02, seconds, 0, 0, 0, 0, 0))
    clock = f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
    swapped = bytes.fromhex("".join(clock[i + 1] + clock[i] for i in range(0, 6, 2)))
    return VPF_ENHANCED, bytes((0x03,)) + swapped + bytes(3)


def encode_submit(destination: str, text: str, encoding: Encoding, *, validity_s: int | None = None,
                  report: bool = False, concat: Concat | None = None, smsc: str = "",
                  reject_duplicates: bool = False, enhanced_validity: bool = True) -> SubmitPdu:
    """One SMS-SUBMIT PDU. TP-MR is 0: the modem assigns the reference and answers it
    in ``+CMGS: <mr>``."""
    vpf, vp = validity_field(validity_s, enhanced=enhanced_validity)
    first = (MTI_SUBMIT | (0x04 if reject_duplicates else 0) | vpf << 3 | (0x20 if report else 0)
             | (0x40 if concat else 0))
    udl, ud = userdata.encode(text, encoding, concat)
    tpdu = bytes((first, 0)) + encode_address(destination) + bytes((0, userdata.DCS[encoding])) + vp \
        + bytes((udl,)) + ud
    return SubmitPdu((encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu))


def split_text(text: str, *, wide: bool = False) -> list[str]:
    """The parts of a message: ``split_segments`` for an 8-bit reference; for a 16-bit
    one the same greedy split at one septet (GSM-7) or unit (UCS-2) less per part."""
    parts = split_segments(text)
    if not wide or len(parts) == 1:
        return parts
    gsm = encoding_for(text) is Encoding.GSM7
    width, limit = (septet_length, WIDE_PART_SEPTETS) if gsm else (ucs2_units, WIDE_PART_UNITS)
    parts, current, used = [], "", 0
    for char in text:
        if used + width(char) > limit:
            parts.append(current)
            current, used = "", 0
        current, used = current + char, used + width(char)
    return parts + [current]


def submit_parts(destination: str, text: str, *, reference: int, wide: bool = False, **options) -> list[SubmitPdu]:
    """Every PDU of a message, concatenated under ``reference`` when it needs parts.

    ``options`` are ``encode_submit``'s (validity, report, smsc...).
    """
    encoding = encoding_for(text)
    parts = split_text(text, wide=wide)
    if len(parts) == 1:
        return [encode_submit(destination, text, encoding, **options)]
    if len(parts) > 255:
        raise PduError(f"a message of {len(parts)} parts exceeds the 255 a header can number")
    return [encode_submit(destination, part, encoding, concat=Concat(reference, len(parts), seq, wide), **options)
            for seq, part in enumerate(parts, start=1)]


def decode(pdu_hex: str, tpdu_length: int | None = None) -> Decoded:
    """A PDU as a modem shows it. With ``tpdu_length`` (from ``+CMGR``, ``+CMT``, ``+CDS``)
    a missing SMSC field is recognised; without it the field is assumed present."""
    try:
        data = bytes.fromhex(pdu_hex.strip())
    except ValueError as exc:
        raise PduError("PDU is not hexadecimal") from exc
    smsc, offset = (None, 0) if tpdu_length is not None and len(data) == tpdu_length else decode_smsc(data)
    if offset >= len(data):
        raise PduError("PDU has no TPDU after its SMSC field")
    kind = data[offset] & 0x03
    if kind == MTI_DELIVER:
        return _deliver(data, offset, smsc)
    if kind == MTI_SUBMIT:
        return _submit(data, offset, smsc)
    if kind == MTI_STATUS_REPORT:
        return _status_report(data, offset, smsc)
    raise PduError("reserved message type indicator")


def _deliver(data: bytes, offset: int, smsc: Address | None) -> Deliver:
    first = data[offset]
    sender, at = decode_address(data, offset + 1)
    _need(data, at + 10)
    dcs = data[at + 1]
    timestamp = decode_timestamp(data, at + 2)
    ud = userdata.decode(data[at + 10:], data[at + 9], dcs, bool(first & 0x40))
    return Deliver(smsc, sender, timestamp, dcs, ud)


def _submit(data: bytes, offset: int, smsc: Address | None) -> Submit:
    first = data[offset]
    _need(data, offset + 2)
    destination, at = decode_address(data, offset + 2)
    _need(data, at + 2)
    dcs, vpf = data[at + 1], first >> 3 & 0x03
    validity, at = _validity(data, at + 2, vpf)
    _need(data, at + 1)
    ud = userdata.decode(data[at + 1:], data[at], dcs, bool(first & 0x40))
    return Submit(smsc, data[offset + 1], destination, validity, bool(first & 0x20), bool(first & 0x04), dcs, ud,
                  data[at])


def _validity(data: bytes, at: int, vpf: int) -> tuple[int | datetime | None, int]:
    if vpf == VPF_NONE:
        return None, at
    if vpf == VPF_RELATIVE:
        _need(data, at + 1)
        return relative_seconds(data[at]), at + 1
    _need(data, at + 7)
    if vpf == VPF_ABSOLUTE:
        return decode_timestamp(data, at), at + 7
    return _enhanced_seconds(data[at:at + 7]), at + 7


def _enhanced_seconds(field: bytes) -> int | None:
    form = field[0] & 0x07
    if form == 0x01:
        return relative_seconds(field[1])
    if form == 0x02:
        return field[1]
    if form == 0x03:
        h, m, s = ((b & 0x0F) * 10 + (b >> 4) for b in field[1:4])
        return h * 3600 + m * 60 + s
    return None


def _status_report(data: bytes, offset: int, smsc: Address | None) -> StatusReport:
    _need(data, offset + 2)
    recipient, at = decode_address(data, offset + 2)
    _need(data, at + 15)
    return StatusReport(smsc, data[offset + 1], recipient, decode_timestamp(data, at), decode_timestamp(data, at + 7),
                        data[at + 14])


def _need(data: bytes, size: int) -> None:
    if len(data) < size:
        raise PduError(f"PDU ends at octet {len(data)}, a field needs {size}")
