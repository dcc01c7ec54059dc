"""The router: which transports may carry a message, in the order to try them.

Routes come from ``[[routes]]``; the first route whose every given key matches wins.
Match keys: ``countries`` (ISO codes), ``prefixes`` (E.164 starts), ``number_types``
(phonenumbers' types: mobile, fixed_line...), ``encodings`` (gsm7, ucs2). A route may
cap the segments a message may cost (``max_parts``). Pure: no I/O, so the API uses it
too, to name the transport it expects on a code's record before the worker decides.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import RouteConfig
from ..domain.phones import Phone
from ..domain.textcodec import encoding_for, segment_count


class NoRouteError(LookupError):
    """No route takes this message (or its route refuses it); it cannot be delivered."""


@dataclass(frozen=True)
class Plan:
    """The transports to try for one message, in order, and why this route was chosen."""

    transports: tuple[str, ...]
    route: int  # index of the route in the settings, for logs


class Router:
    def __init__(self, routes: tuple[RouteConfig, ...]):
        if not routes:
            raise ValueError("a router needs at least one route")
        self.routes = routes

    def plan(self, phone: Phone, text: str) -> Plan:
        encoding = encoding_for(text).value
        for index, route in enumerate(self.routes):
            if self._matches(route, phone, encoding):
                if route.max_parts and segment_count(text) > route.max_parts:
                    raise NoRouteError(f"route {index} allows at most {route.max_parts} segment(s) per message")
                return Plan(route.transports, index)
        raise NoRouteError(f"no route for {phone.country} {phone.number_type} {encoding} messages")

    def first(self, phone: Phone, text: str) -> str:
        """The transport the matching route names first, or '' when none matches."""
        try:
            return self.plan(phone, text).transports[0]
        except NoRouteError:
            return ""

    @staticmethod
    def _matches(route: RouteConfig, phone: Phone, encoding: str) -> bool:
        return ((not route.countries or phone.country in route.countries)
                and (not route.prefixes or phone.e164.startswith(route.prefixes))
                and (not route.number_types or phone.number_type in route.number_types)
                and (not route.encodings or encoding in route.encodings))
