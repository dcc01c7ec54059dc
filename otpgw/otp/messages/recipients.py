"""A batch's recipients: normalised, classified, admitted, de-duplicated, tagged. No I/O.

Each number goes through the same admission as a code's (``Policy.admit``: the
deployment's and the client's countries, the number types that may receive SMS) and the
router (a number no route takes, or a text longer than its route allows, cannot be
sent); the refused ones are listed with the reason, the rest accepted.

Speed matters here: a request may carry 100,000 numbers, and ``parse_phone`` costs
~40 µs each (``phonenumbers.parse`` and three passes over the region's patterns). A
number already in strict E.164 form whose national part cannot start with a national
prefix is classified directly, by phonenumbers' own rules and metadata in one pass over
precompiled patterns (``_FastE164``); anything else takes ``parse_phone``. The keyed
phone tag is the same as ``domain.codes.Tags.phone``, in one call of the C HMAC.
"""
from __future__ import annotations

import base64
import hmac
import re
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

from ...config import ClientConfig
from ...delivery.router import NoRouteError, Router
from ...domain.phones import NUMBER_TYPES, Phone, parse_phone
from ...errors import InvalidPhone, OtpgwError
from ..policy import Policy

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
YIELD_EVERY = 2000  # recipients between two yields to other requests of this process


@dataclass(frozen=True)
class Refused:
    """A recipient that cannot be sent to: as given, with the error code and why."""

    to: str
    code: str
    reason: str


@dataclass(frozen=True)
class Admitted:
    phones: tuple[Phone, ...]  # accepted, unique, in request order
    invalid: tuple[Refused, ...]
    duplicates: tuple[str, ...]  # numbers given again (as given), left out


def cooperative(items: Iterable, every: int = YIELD_EVERY) -> Iterator:
    """``items``, pausing for other requests now and then: under gevent ``time.sleep(0)``
    yields to the hub, under threads it releases the GIL, so a large batch never holds a
    worker's other requests (codes) for seconds."""
    for position, item in enumerate(items, 1):
        yield item
        if position % every == 0:
            time.sleep(0)


class _FastE164:
    """E.164 numbers classified without ``phonenumbers.parse`` when that is safe, by the
    rules of ``phonenumbers.number_type`` and ``region_code_for_number`` in one pass: the
    region is the first of the calling code's regions whose leading digits match, or
    whose patterns the number matches, and the type is that region's first matching
    pattern (``_number_type_helper``'s order). Patterns are compiled once per region."""

    def __init__(self) -> None:
        self._prefixes: dict[int, re.Pattern | None] = {}
        self._regions: dict[tuple[int, str], _Region | None] = {}

    def parse(self, raw: str) -> Phone | None:
        """The number, or None when only the full parse can tell (or it is not valid)."""
        if not _E164.fullmatch(raw):
            return None
        code, national = _split_country_code(raw[1:])
        if code is None or national[:1] in ("", "0") or self._prefix(code, national):
            return None
        region, kind = self._classify(code, national)
        if kind == PhoneNumberType.UNKNOWN:
            return None
        return Phone(raw, region or "ZZ", kind == PhoneNumberType.FIXED_LINE, NUMBER_TYPES.get(kind, "unknown"))

    def _classify(self, code: int, national: str) -> tuple[str | None, int]:
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
        if len(regions) == 1:
            compiled = self._region(code, regions[0])
            return regions[0], compiled.kind(national) if compiled else PhoneNumberType.UNKNOWN
        for region in regions:
            compiled = self._region(code, region)
            if compiled is None:
                continue
            if compiled.leading is not None:
                if compiled.leading.match(national):
                    return region, compiled.kind(national)
                continue
            kind = compiled.kind(national)
            if kind != PhoneNumberType.UNKNOWN:
                return region, kind
        return None, PhoneNumberType.UNKNOWN

    def _region(self, code: int, region: str) -> "_Region | None":
        if (code, region) not in self._regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region.upper())
            self._regions[(code, region)] = _Region(metadata) if metadata else None
        return self._regions[(code, region)]

    def _prefix(self, code: int, national: str) -> bool:
        """Could the full parse strip a national prefix (or carrier code) from ``national``?"""
        if code not in self._prefixes:
            region = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code][0]
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
            pattern = metadata.national_prefix_for_parsing if metadata else None
            self._prefixes[code] = re.compile(pattern) if pattern else None
        pattern = self._prefixes[code]
        return pattern is not None and pattern.match(national) is not None


_SPECIAL = (("premium_rate", PhoneNumberType.PREMIUM_RATE), ("toll_free", PhoneNumberType.TOLL_FREE),
            ("shared_cost", PhoneNumberType.SHARED_COST), ("voip", PhoneNumberType.VOIP),
            ("personal_number", PhoneNumberType.PERSONAL_NUMBER), ("pager", PhoneNumberType.PAGER),
            ("uan", PhoneNumberType.UAN), ("voicemail", PhoneNumberType.VOICEMAIL))
_Desc = tuple[frozenset[int], re.Pattern] | None


def _desc(description: object) -> _Desc:
    pattern = getattr(description, "national_number_pattern", None)
    if not pattern:
        return None
    return frozenset(description.possible_length or ()), re.compile(pattern)


def _matches(national: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


class _Region:
    """One region's patterns, compiled: ``kind`` is ``phonenumbers._number_type_helper``."""

    def __init__(self, metadata: PhoneMetadata):
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
        self.general = _desc(metadata.general_desc)
        self.special = [(_desc(getattr(metadata, name)), kind) for name, kind in _SPECIAL]
        self.special = [(desc, kind) for desc, kind in self.special if desc is not None]
        self.fixed, self.mobile = _desc(metadata.fixed_line), _desc(metadata.mobile)
        self.same = bool(metadata.same_mobile_and_fixed_line_pattern)

    def kind(self, national: str) -> int:
        if not _matches(national, self.general):
            return PhoneNumberType.UNKNOWN
        for desc, kind in self.special:
            if _matches(national, desc):
                return kind
        if _matches(national, self.fixed):
            if self.same or _matches(national, self.mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same and _matches(national, self.mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


def _split_country_code(digits: str) -> tuple[int | None, str]:
    """Country calling codes are prefix-free: the first 1-3 digits that name one."""
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code, digits[length:]
    return None, ""


class PhoneTagger:
    """``Tags.phone`` (``identity_tag(key, "phone", e164)``) in one call of the C HMAC."""

    def __init__(self, tag_key: str):
        self._key = tag_key.encode()

    def __call__(self, e164: str) -> str:
        mac = hmac.digest(self._key, b"otpgw-tag\x00phone\x00" + e164.encode(), "sha256")
        return base64.b32encode(mac[:10]).decode().lower()


class RecipientList:
    def __init__(self, policy: Policy, router: Router, default_region: str):
        self.policy = policy
        self.router = router
        self.region = default_region
        self._fast = _FastE164()
        self._by_prefix = any(route.prefixes for route in router.routes)

    def admit(self, given: Iterable[str], text: str, client: ClientConfig) -> Admitted:
        phones: dict[str, Phone] = {}
        invalid: list[Refused] = []
        duplicates: list[str] = []
        routes: dict[tuple[str, str], str] = {}  # (country, type) -> why no route ('' = routed)
        for raw in cooperative(given):
            try:
                phone = self._admitted(raw, text, client, routes)
            except OtpgwError as exc:
                shown = raw if len(raw) <= 40 else raw[:40] + "…"
                invalid.append(Refused(shown, exc.code, exc.details.get("reason", exc.message)))
                continue
            if phone.e164 in phones:
                duplicates.append(raw)
            else:
                phones[phone.e164] = phone
        return Admitted(tuple(phones.values()), tuple(invalid), tuple(duplicates))

    def _admitted(self, raw: str, text: str, client: ClientConfig, routes: dict[tuple[str, str], str]) -> Phone:
        if not 3 <= len(raw) <= 32:
            raise InvalidPhone("not a phone number (3 to 32 characters)")
        phone = self._fast.parse(raw) or parse_phone(raw.strip(), self.region)
        self.policy.admit(phone, client)
        if self._by_prefix:  # a route matches number prefixes: each number is its own case
            refusal = self._route(phone, text)
        else:
            refusal = routes.get((phone.country, phone.number_type))
            if refusal is None:
                refusal = routes[(phone.country, phone.number_type)] = self._route(phone, text)
        if refusal:
            raise _NoRoute(refusal)
        return phone

    def _route(self, phone: Phone, text: str) -> str:
        """'' when a route takes ``text`` to ``phone``, else why not."""
        try:
            self.router.plan(phone, text)
        except NoRouteError as exc:
            return str(exc)
        return ""


class _NoRoute(OtpgwError):
    """No route takes a message to this number."""

    status, code = 400, "no_route"
