"""Options: one nested TOML table (a transport, a route, a client) read key by key.

The code that owns a table reads it through this class, so every bad value stops the
start with a sentence naming its full path (``transports.tw.auth_token: ...``) and a
misspelt key gets "did you mean" instead of being silently ignored (``done``).
"""
from __future__ import annotations

import difflib
from typing import Any, Mapping

from . import parsers
from .errors import SettingsError

_MISSING = object()


class Options:
    def __init__(self, where: str, table: Mapping[str, Any]):
        if not isinstance(table, Mapping):
            raise SettingsError(f"{where}: expected a table, got {type(table).__name__}")
        self.where = where
        self._table = dict(table)
        self._read: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._table

    def raw(self) -> dict[str, Any]:
        """The table as given (for a transport that keeps a sub-table verbatim)."""
        return dict(self._table)

    def get(self, key: str, parse: parsers.Parser, default: Any = _MISSING) -> Any:
        """Parse ``key`` (a default is returned as given); missing and required is an error."""
        self._read.add(key)
        if key not in self._table:
            if default is _MISSING:
                raise SettingsError(f"{self.where}.{key} is required")
            return default
        try:
            return parse(self._table[key])
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{self.where}.{key}: {exc}") from None

    def str(self, key: str, default: Any = _MISSING, **text: Any) -> str:
        return self.get(key, parsers.text(**text), default)

    def int(self, key: str, default: Any = _MISSING, *, low: int = 0, high: int = 10**9) -> int:
        return self.get(key, parsers.integer(low, high), default)

    def float(self, key: str, default: Any = _MISSING, *, low: float = 0.0, high: float = 1e9) -> float:
        return self.get(key, parsers.number(low, high), default)

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        return self.get(key, parsers.boolean, default)

    def list(self, key: str, default: Any = (), item: parsers.Parser | None = None) -> tuple:
        return self.get(key, parsers.words(item), default)

    def table(self, key: str, default: Any = _MISSING) -> "Options":
        """A nested table as Options of its own (read it, then call its ``done``)."""
        self._read.add(key)
        if key not in self._table:
            if default is _MISSING:
                raise SettingsError(f"{self.where}.{key} is required")
            return Options(f"{self.where}.{key}", default)
        return Options(f"{self.where}.{key}", self._table[key])

    def fail(self, key: str, sentence: str) -> SettingsError:
        """An error about one key, for checks that involve several keys."""
        return SettingsError(f"{self.where}.{key}: {sentence}")

    def done(self) -> None:
        """Refuse keys nobody read: a typo would otherwise keep a default silently."""
        for key in sorted(set(self._table) - self._read):
            close = difflib.get_close_matches(key, sorted(self._read), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SettingsError(f"{self.where}.{key} is not a known option{hint}")
