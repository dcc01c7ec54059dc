"""Placeholders in a templated HTTP carrier's request: ``{to}``, ``{text}``...

A template is checked when the transport is built (an unknown name or a stray brace
stops the start) and rendered per message. ``{{`` and ``}}`` are literal braces. Names:

=================  ==============================================================
``{to}``           the destination in E.164 (``+14155552671``)
``{to_digits}``    the destination without ``+``
``{text}``         the message text
``{reference}``    otpgw's id of the message (echo it back if the carrier can)
``{sender}``       the message's sender, else the transport's ``from``
``{callback_url}`` this transport's callback base URL ('' without a public URL)
``{status_url}``   ``{callback_url}/status?ref=<reference>&token=<token>``: give it
                   to the carrier as the delivery-report URL
``{token}``        the per-message callback token alone
``{validity_s}``   seconds left before the code dies; ``{validity_min}`` minutes
                   (rounded down, at least 1); ``{ttl_ms}`` milliseconds
``{encoding}``     ``gsm7`` or ``ucs2``; ``{parts}`` the number of SMS segments
=================  ==============================================================

In a JSON body, a value that is exactly one of the numeric placeholders
(``validity_s``, ``validity_min``, ``ttl_ms``, ``parts``) is sent as a JSON number.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ...config.errors import SettingsError
from ..base import Message
from .callbacks import status_url

NUMERIC = ("validity_s", "validity_min", "ttl_ms", "parts")
NAMES = ("to", "to_digits", "text", "reference", "sender", "callback_url", "status_url", "token", "validity_s",
         "validity_min", "ttl_ms", "encoding", "parts")
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_]+)\}|[{}]")


class Template:
    """One string with placeholders; ``render`` fills them, ``escape`` encodes each value
    (for URLs)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.names = self._check(source)

    @staticmethod
    def _check(source: str) -> frozenset[str]:
        names = set()
        for match in _TOKEN.finditer(source):
            token, name = match.group(0), match.group(1)
            if token in ("{", "}"):
                raise ValueError(f"{source!r} has a lone brace (write {{{{ or }}}} for a literal one)")
            if name is not None and name not in NAMES:
                raise ValueError(f"unknown placeholder {{{name}}}; use one of "
                                 + ", ".join("{" + n + "}" for n in NAMES))
            if name is not None:
                names.add(name)
        return frozenset(names)

    @property
    def number(self) -> str:
        """The numeric placeholder this template is made of alone, or ''."""
        match = re.fullmatch(r"\{([a-z_]+)\}", self.source)
        return match.group(1) if match and match.group(1) in NUMERIC else ""

    def render(self, values: dict[str, str], escape: Callable[[str], str] = str) -> str:
        def fill(match: re.Match) -> str:
            token = match.group(0)
            return token[0] if token in ("{{", "}}") else escape(values[match.group(1)])

        return _TOKEN.sub(fill, self.source)


def message_values(message: Message, sender: str, now_ms: int) -> dict[str, str]:
    """Every placeholder's value for one message, as text."""
    validity = message.validity_s(now_ms)
    return {"to": message.destination, "to_digits": message.destination.lstrip("+"), "text": message.text,
            "reference": message.reference, "sender": message.sender or sender,
            "callback_url": message.callback_url, "status_url": status_url(message),
            "token": message.callback_token, "validity_s": str(validity),
            "validity_min": str(max(1, validity // 60)), "ttl_ms": str(validity * 1000),
            "encoding": message.encoding.value, "parts": str(message.parts)}


def compile_tree(value: Any, where: str) -> Any:
    """A TOML value with every string made a Template (tables and arrays kept); a bad
    template raises SettingsError naming its full setting (``where``)."""
    if isinstance(value, str):
        try:
            return Template(value)
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    if isinstance(value, dict):
        return {str(k): compile_tree(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [compile_tree(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def tree_names(tree: Any) -> frozenset[str]:
    """Every placeholder a compiled tree uses."""
    if isinstance(tree, Template):
        return tree.names
    items = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else ()
    return frozenset().union(*(tree_names(v) for v in items))


def render_tree(tree: Any, values: dict[str, str], *, numbers: bool) -> Any:
    """The request value of a compiled tree; with ``numbers``, a lone numeric
    placeholder becomes an int (JSON bodies)."""
    if isinstance(tree, Template):
        return int(values[tree.number]) if numbers and tree.number else tree.render(values)
    if isinstance(tree, dict):
        return {k: render_tree(v, values, numbers=numbers) for k, v in tree.items()}
    if isinstance(tree, list):
        return [render_tree(v, values, numbers=numbers) for v in tree]
    return tree
