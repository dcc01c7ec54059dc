"""JSON paths for templated carriers: where a reply or a callback keeps a value.

A path is dot-separated keys with optional list indexes: ``id``, ``data.id``,
``messages[0].message-id``, ``results.0.status``. A key may hold any character but
``.`` and ``[``. Nothing more (no wildcards, no filters): a carrier's reply is small
and its shape is fixed, so one value at one place is all a profile needs.
"""
from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")
_MISSING = object()


class JsonPath:
    def __init__(self, source: str) -> None:
        self.source = source
        self.steps = self._parse(source)

    @staticmethod
    def _parse(source: str) -> tuple[str | int, ...]:
        steps: list[str | int] = []
        for segment in source.split("."):
            match = _STEP.fullmatch(segment)
            if not match:
                raise ValueError(f"{source!r} is not a path like data.id or messages[0].id")
            key, indexes = match.groups()
            steps.append(int(key) if key.isdigit() else key)
            steps.extend(int(i) for i in re.findall(r"\d+", indexes))
        return tuple(steps)

    def find(self, document: Any) -> Any:
        """The value at this path, or None when any step is missing."""
        node = document
        for step in self.steps:
            node = _step(node, step)
            if node is _MISSING:
                return None
        return node

    def text(self, document: Any) -> str:
        """The value as text ('' when missing or null); true/false as JSON writes them."""
        value = self.find(document)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def _step(node: Any, step: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(str(step), _MISSING)
    if isinstance(node, list) and isinstance(step, int):
        return node[step] if -len(node) <= step < len(node) else _MISSING
    return _MISSING
