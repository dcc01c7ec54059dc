"""The pieces of a request that ``--profile`` times one by one, and the meter that times them.

``TIMED`` names callables by where the request looks them up: ``otpgw.otp.service``
imports ``parse_phone`` and ``render`` by name, so those are patched there, while
``identity_tag`` and ``code_digest`` are called through ``otpgw.domain.codes``. A piece
may have several rows (one label): the old and the new place of the same work, or a
method and the override that falls back to it. Rows marked optional may name nothing
(a tree from before or after a change); any other row that names nothing stops the
profile with a sentence that says which. When otpgw moves or renames one, update it here.

Pieces nest (a request hook writes a log line, the store calls redis-py): the meter
charges each piece its own time only, so the rows add up and "rest" is the request's
CPU less their sum.
"""
from __future__ import annotations

import functools
import importlib
import time
from collections import Counter
from typing import Any

REDIS = "redis-py / direct EVALSHA call (client CPU, incl. the socket)"

# (label, owner, attribute, optional). ``owner`` is a dotted module or class path;
# patching happens in this process only.
TIMED = [
    ("Flask hooks: request id, auth, latency + access fields", "otpgw.web.requestlog", "_start", False),
    ("Flask hooks: request id, auth, latency + access fields", "otpgw.web.requestlog", "_finish", False),
    ("Flask hooks: request id, auth, latency + access fields", "otpgw.web.auth", "authenticate", False),
    ("body: read + JSON parse", "otpgw.web.body", "read_body", False),
    ("body: read + JSON parse", "json", "loads", False),
    ("marshmallow: load request", "marshmallow.Schema", "load", False),
    ("marshmallow: load request", "otpgw.web.schemas._Request", "load", True),
    ("marshmallow: dump response", "marshmallow.Schema", "dump", False),
    ("marshmallow: dump response", "otpgw.web.schemas._FlatResponse", "dump", True),
    ("JSON response (Flask's provider or a direct Response)", "flask.json.provider.DefaultJSONProvider", "response",
     False),
    ("JSON response (Flask's provider or a direct Response)", "otpgw.web.otp", "answer", True),
    ("phonenumbers: parse, validate, type, format", "otpgw.otp.service", "parse_phone", False),
    ("HMACs: phone tag, code digest(s)", "otpgw.domain.codes", "identity_tag", False),
    ("HMACs: phone tag, code digest(s)", "otpgw.domain.codes", "code_digest", False),
    ("random code + id", "otpgw.domain.codes", "generate_code", False),
    ("random code + id", "otpgw.domain.codes", "new_id", False),
    ("SMS text render + route", "otpgw.otp.service", "render", False),
    ("SMS text render + route", "otpgw.delivery.router.Router", "first", False),
    ("sealing the message (AES-GCM)", "otpgw.domain.sealing.Sealer", "seal", False),
    ("store: keys + script arguments", "otpgw.store.codes.CodeStore", "issue", False),
    ("store: keys + script arguments", "otpgw.store.codes.CodeStore", "verify", False),
    (REDIS, "redis.commands.core.Script", "__call__", False),
    (REDIS, "otpgw.store.direct.DirectScripts", "__call__", True),
    ("log lines: audit + access (JSON, redact, write)", "logging.Logger", "info", False),
    ("prometheus: labels()", "prometheus_client.metrics.MetricWrapperBase", "labels", False),
    ("prometheus: counter inc + histogram observe", "prometheus_client.metrics.Counter", "inc", False),
    ("prometheus: counter inc + histogram observe", "prometheus_client.metrics.Histogram", "observe", False),
]
LABELS = list(dict.fromkeys(label for label, *_ in TIMED))  # the table's row order


class CpuMeter:
    """Adds up, by label, the CPU time spent inside patched callables while ``on``; a piece
    called inside another is charged to itself and taken out of the outer one."""

    def __init__(self) -> None:
        self.spent: Counter = Counter()
        self.on = False
        self._inner: list[float] = []  # per open piece: CPU of the pieces inside it so far

    def patch(self, label: str, owner_path: str, attribute: str, optional: bool = False) -> None:
        try:
            owner = _resolve(owner_path)
            original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        except (ImportError, AttributeError, KeyError) as exc:
            if optional:
                return
            raise LookupError(f"--profile times {owner_path}.{attribute} for {label!r}, which does not exist: "
                              "update TIMED in benchmarks/pieces.py to what otpgw now calls") from exc

        @functools.wraps(original)
        def timed(*a: Any, **kw: Any) -> Any:
            if not self.on:
                return original(*a, **kw)
            self._inner.append(0.0)
            started = time.process_time()
            try:
                return original(*a, **kw)
            finally:
                elapsed = time.process_time() - started
                inner = self._inner.pop()
                self.spent[label] += elapsed - inner
                if self._inner:
                    self._inner[-1] += elapsed

        setattr(owner, attribute, timed)

    @staticmethod
    def rebind_hooks(app: Any) -> None:
        """Flask keeps its own references to request hooks: point them at the timed versions."""
        import sys

        for registry in (app.before_request_funcs, app.after_request_funcs):
            for funcs in registry.values():
                for i, func in enumerate(funcs):
                    current = getattr(sys.modules.get(func.__module__), func.__name__, None)
                    if getattr(current, "__wrapped__", None) is func:
                        funcs[i] = current


def _resolve(owner_path: str) -> Any:
    """A module, or else a class given as module path then class name."""
    try:
        return importlib.import_module(owner_path)
    except ImportError:
        module, _, name = owner_path.rpartition(".")
        return getattr(importlib.import_module(module), name)
