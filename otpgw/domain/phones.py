"""Phone numbers: normalise to E.164 and classify, with the ``phonenumbers`` library.

Also the one place that masks numbers: one known number (``mask``) for logs and the
console, and any digit run in free text (``redact``) such as a carrier's error message.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

from ..errors import InvalidPhone

_LANDLINE = {PhoneNumberType.FIXED_LINE}
_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


# phonenumbers' types by the lower-case names settings and routes use
NUMBER_TYPES = {kind: name.lower() for name, kind in vars(PhoneNumberType).items()
                if not name.startswith("_") and isinstance(kind, int)}


@dataclass(frozen=True)
class Phone:
    e164: str
    country: str
    is_landline: bool
    number_type: str = "unknown"  # a value of NUMBER_TYPES: mobile, fixed_line, premium_rate...


@functools.lru_cache(maxsize=65536)
def parse_phone(raw: str, region: str = "") -> Phone:
    """Normalise ``raw``; a national number needs ``region`` (ISO 3166 alpha-2).

    Pure, so cached: a login flow sends and verifies the same number within minutes.
    """
    try:
        number = phonenumbers.parse(raw, region.upper() or None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("phone is not a recognisable phone number") from None
    region = phonenumbers.region_code_for_number(number)
    kind = _number_type(number, region)  # UNKNOWN exactly when is_valid_number is False
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidPhone("phone is not a valid number for its country")
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country=region or "ZZ",
        is_landline=kind in _LANDLINE,
        number_type=NUMBER_TYPES.get(kind, "unknown"),
    )


def _number_type(number: phonenumbers.PhoneNumber, region: str | None) -> int:
    """``phonenumbers.number_type`` given the region it would look up again (a third of
    its cost for a +1 number, which has two dozen regions to try)."""
    if _TYPE_HELPER is None:  # pragma: no cover (a phonenumbers without the helper)
        return phonenumbers.number_type(number)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    return _TYPE_HELPER(phonenumbers.national_significant_number(number), metadata)


_TYPE_HELPER = getattr(phonenumbers.phonenumberutil, "_number_type_helper", None)


def mask(e164: str) -> str:
    """Keep the country prefix and the last three digits: enough to tell numbers apart."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:4] + "*" * (len(e164) - 7) + e164[-3:]


_DIGIT_RUN = re.compile(r"(?<![\w])\+?\d{6,}(?![\w])")


def redact(text: str) -> str:
    """Mask every free-standing run of six or more digits: a number or a code."""
    return _DIGIT_RUN.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 3), text)
