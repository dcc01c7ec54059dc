"""The nested tables of the settings file: ``[transports.<name>]`` and ``[[routes]]``.

A transport table is kept as given, apart from its ``type``: the transport class reads
its own options when it is built (``otpgw.transports.build``), so each carrier profile
owns its keys and their sentences. Routes are checked here, against the transports.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..domain.phones import NUMBER_TYPES as _TYPES
from ..domain.textcodec import Encoding
from . import parsers as p
from .errors import SettingsError
from .options import Options

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
NUMBER_TYPES = tuple(_TYPES.values())
ENCODINGS = tuple(e.value for e in Encoding)


@dataclass(frozen=True)
class Capacity:
    """How much a transport may carry, for every worker together (kept in Redis).

    ``rate``: messages per second (0: no limit), with bursts of up to ``burst``; the
    circuit breaker opens after ``breaker_failures`` failed attempts in a row, for
    ``breaker_cooldown`` seconds (doubling on repeat, up to ten times that), then lets one
    probe through. ``throttle_pause``: seconds to pause after a throttling reply that
    named no time.
    """

    rate: float = 0.0
    burst: int = 0
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    throttle_pause: float = 1.0

    @classmethod
    def read(cls, options: Options) -> "Capacity":
        return cls(rate=options.float("rate", 0.0, low=0, high=100000),
                   burst=options.int("burst", 0, low=0, high=100000),
                   breaker_failures=options.int("breaker_failures", 5, low=1, high=1000),
                   breaker_cooldown=options.float("breaker_cooldown", 30.0, low=0.1, high=3600),
                   throttle_pause=options.float("throttle_pause", 1.0, low=0.01, high=3600))


CAPACITY_KEYS = ("rate", "burst", "breaker_failures", "breaker_cooldown", "throttle_pause")


@dataclass(frozen=True)
class TransportConfig:
    """One ``[transports.<name>]`` table: its type, its capacity (read here, the same for
    every type) and the rest of its keys, unread: the transport class reads those."""

    name: str
    type: str
    options: Mapping[str, Any] = field(repr=False)  # credentials live here
    capacity: Capacity = field(default_factory=Capacity)

    def reader(self) -> Options:
        """The options (without ``type``) to read, named ``transports.<name>``."""
        return Options(f"transports.{self.name}", self.options)


@dataclass(frozen=True)
class RouteConfig:
    """Messages that match every given key go to ``transports``, in order (fail-over).

    Empty match keys match everything; the first matching route wins. ``max_parts``
    (0: no cap) refuses a message longer than that many segments on this route.
    """

    transports: tuple[str, ...]
    countries: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    number_types: tuple[str, ...] = ()
    encodings: tuple[str, ...] = ()
    max_parts: int = 0


def parse_transports(raw: Any) -> dict[str, TransportConfig]:
    if not isinstance(raw, Mapping):
        raise SettingsError("transports: expected tables [transports.<name>] with a type key")
    result = {}
    for name, table in raw.items():
        if not NAME.match(str(name)):
            raise SettingsError(f"transports.{name}: a name is 1-32 of a-z 0-9 _ -, starting with a letter or digit")
        if not isinstance(table, Mapping) or not table.get("type"):
            raise SettingsError(f"transports.{name}.type is required (e.g. twilio, vonage, kannel, http, modem)")
        options = {k: v for k, v in table.items() if k != "type" and k not in CAPACITY_KEYS}
        capacity = Capacity.read(Options(f"transports.{name}", {k: table[k] for k in CAPACITY_KEYS if k in table}))
        result[str(name)] = TransportConfig(str(name), str(table["type"]), MappingProxyType(options), capacity)
    return result


def parse_routes(raw: Any, transports: Mapping[str, TransportConfig]) -> tuple[RouteConfig, ...]:
    if not isinstance(raw, (list, tuple)):
        raise SettingsError("routes: expected an array of tables [[routes]]")
    return tuple(_route(Options(f"routes[{i}]", table), transports) for i, table in enumerate(raw))


def _route(options: Options, transports: Mapping[str, TransportConfig]) -> RouteConfig:
    route = RouteConfig(
        transports=options.get("transports", p.words()),
        countries=options.list("countries", item=p.country),
        prefixes=options.list("prefixes", item=p.prefix),
        number_types=options.list("number_types", item=p.text(choices=NUMBER_TYPES)),
        encodings=options.list("encodings", item=p.text(choices=ENCODINGS)),
        max_parts=options.int("max_parts", 0, low=0, high=255),
    )
    options.done()
    if not route.transports:
        raise options.fail("transports", "name at least one transport")
    unknown = [t for t in route.transports if t not in transports]
    if unknown:
        raise options.fail("transports", f"{', '.join(unknown)} not configured (known: {', '.join(transports)})")
    return route
