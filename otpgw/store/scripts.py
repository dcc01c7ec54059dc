"""Lua scripts, registered once and called by name with named keys and arguments.

Each ``lua/<verb_noun>.lua`` opens with a header that names every KEYS and ARGV entry
in order::

    -- KEYS
    --   phone_lock       the phone's lockout flag
    -- ARGV
    --   now              ms

The header is the one source of the order: ``Script.__call__`` takes ``keys={...}`` and
``args={...}`` by name, refuses a missing or unknown name, and lays them out; the loader
prepends ``_prelude.lua`` and two tables, ``K`` and ``A``, so the script body reads
``K.phone_lock`` and ``A.now`` instead of ``KEYS[1]`` and ``ARGV[1]``. Python and Lua can
no longer drift apart in lockstep. Scripts run by EVALSHA (redis-py reloads on NOSCRIPT).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

_ENTRY = re.compile(r"^-- {3}([a-z][a-z0-9_]*)\b")  # a name, three spaces in
_CONTINUED = re.compile(r"^-- {4,}\S")  # a description carried on to the next line


@dataclass(frozen=True)
class Header:
    keys: tuple[str, ...]
    args: tuple[str, ...]


def parse_header(source: str) -> Header:
    """The KEYS and ARGV names of a script, from its opening comment block."""
    sections: dict[str, list[str]] = {"KEYS": [], "ARGV": []}
    current = None
    for line in source.splitlines():
        if not line.startswith("--"):
            break
        marker = line[2:].strip()
        if marker in sections:
            current = marker
            continue
        match = _ENTRY.match(line)
        if current and match:
            sections[current].append(match.group(1))
        elif not (current and _CONTINUED.match(line)):
            current = None
    return Header(tuple(sections["KEYS"]), tuple(sections["ARGV"]))


def _bindings(header: Header) -> str:
    """Lua that names the positional KEYS and ARGV after the header."""
    keys = ", ".join(f"{name} = KEYS[{i}]" for i, name in enumerate(header.keys, 1))
    args = ", ".join(f"{name} = ARGV[{i}]" for i, name in enumerate(header.args, 1))
    return f"local K = {{{keys}}}\nlocal A = {{{args}}}\n"


class ScriptCallError(TypeError):
    """A script was called with names its header does not declare (a programming error)."""


class Script:
    def __init__(self, client: Any, name: str, source: str, prelude: str):
        self.name = name
        self.header = parse_header(source)
        self._script = client.register_script(_bindings(self.header) + prelude + source)

    @property
    def sha(self) -> str:
        return self._script.sha

    @property
    def source(self) -> str:
        return self._script.script

    def __call__(self, *, keys: Mapping[str, str], args: Mapping[str, Any], client: Any = None) -> Any:
        return self._script(keys=self._order("KEYS", self.header.keys, keys),
                            args=self._order("ARGV", self.header.args, args), client=client)

    def _order(self, what: str, names: tuple[str, ...], given: Mapping[str, Any]) -> list[Any]:
        if set(given) != set(names):
            missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
            raise ScriptCallError(f"{self.name}.lua {what}: missing {missing}, unknown {extra}")
        return [_arg(given[name]) for name in names]


def _arg(value: Any) -> Any:
    """Booleans travel as 1/0; Redis would refuse Python's True."""
    return int(value) if isinstance(value, bool) else value


class Scripts:
    """Every script of ``lua/``, registered on one client."""

    def __init__(self, client: Any):
        folder = resources.files("otpgw.store") / "lua"
        prelude = (folder / "_prelude.lua").read_text()
        self._scripts = {
            entry.name[:-4]: Script(client, entry.name[:-4], entry.read_text(), prelude)
            for entry in folder.iterdir() if entry.name.endswith(".lua") and not entry.name.startswith("_")
        }

    def __getattr__(self, name: str) -> Script:
        try:
            return self.__dict__["_scripts"][name]
        except KeyError:
            raise AttributeError(f"no script {name}.lua") from None

    def __iter__(self):
        return iter(self._scripts.values())
