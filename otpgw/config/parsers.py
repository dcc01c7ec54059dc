"""Parsers for setting values: an environment string or a TOML value in, a typed value out.

Each parser is a callable that raises ``ValueError`` with a phrase about the value
("5 is outside 6..10"); the loader prefixes the setting's name, so every sentence a
bad deployment sees names the setting and says what would be valid.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

Parser = Callable[[Any], Any]
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a valid bool (use true or false)")


def _ranged(kind: type, name: str, low: float, high: float) -> Parser:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a valid {name}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a valid {name}") from None
        if not low <= number <= high:
            raise ValueError(f"{number} is outside {low}..{high}")
        return number

    return parse


def integer(low: int, high: int) -> Parser:
    return _ranged(int, "int", low, high)


def number(low: float, high: float) -> Parser:
    return _ranged(float, "float", low, high)


def text(pattern: str | None = None, *, choices: tuple[str, ...] = (), upper: bool = False,
         hint: str = "") -> Parser:
    """A string, optionally upper-cased, matched against a pattern or a set of choices."""
    compiled = re.compile(pattern) if pattern else None

    def parse(value: Any) -> str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"{value!r} is not a string")
        result = str(value).strip().upper() if upper else str(value)
        if choices and result not in choices:
            raise ValueError(f"use {', '.join(choices[:-1])} or {choices[-1]}")
        if compiled and result and not compiled.fullmatch(result):
            raise ValueError(f"{value!r} is not valid{': ' + hint if hint else ''}")
        return result

    return parse


def words(item: Parser | None = None) -> Parser:
    """A comma-separated string or a TOML array, trimmed, empty items dropped."""

    def parse(value: Any) -> tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"{value!r} is not a list")
        cleaned = [str(i).strip() for i in items if str(i).strip()]
        return tuple(item(i) for i in cleaned) if item else tuple(cleaned)

    return parse


def pairs(value_parser: Parser, key: Callable[[str], str] = str) -> Parser:
    """``"a:1,b=2"`` from the environment, or a TOML table, as pairs sorted by name.

    The first ``:`` or ``=`` separates name from value, so a value may contain either.
    """

    def parse(value: Any) -> tuple[tuple[str, Any], ...]:
        if isinstance(value, Mapping):
            items = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            items = [(str(k), v) for k, v in value]
        else:
            items = [_split_pair(i) for i in filter(None, (p.strip() for p in str(value).split(",")))]
        return tuple(sorted((key(k), value_parser(v)) for k, v in items))

    return parse


def _split_pair(item: str) -> tuple[str, str]:
    cut = min((i for i in (item.find(":"), item.find("=")) if i >= 0), default=-1)
    name, val = (item[:cut].strip(), item[cut + 1:].strip()) if cut >= 0 else ("", "")
    if not name or not val:
        raise ValueError(f"{item!r} is not name:value")
    return name, val


def country(value: Any) -> str:
    code = str(value).strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 code")
    return code


def prefix(value: Any) -> str:
    """A number prefix in E.164 form: ``+1900`` or ``1900`` both mean ``+1900``."""
    result = "+" + str(value).strip().lstrip("+")
    if not re.fullmatch(r"\+\d{1,14}", result):
        raise ValueError(f"{value!r} is not a number prefix (+digits)")
    return result


def positive_int(value: Any) -> int:
    return integer(1, 10**9)(value)


def public_url(value: Any) -> str:
    """An absolute http(s) URL without a trailing slash, or '' for none."""
    result = str(value).strip().rstrip("/")
    if result and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", result):
        raise ValueError(f"{value!r} is not an absolute http(s) URL without query or fragment")
    return result
