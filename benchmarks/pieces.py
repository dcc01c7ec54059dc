"""The pieces of a request that ``--profile`` times one by one, and the meter that times them.

``TIMED`` names callables by where the request looks them up: ``otpgw.otp.service``
imports ``parse_phone`` and ``render`` by name, so those are patched there, while it calls
``codes.code_digest`` through the module, so that one is patched in ``otpgw.domain.codes``. When otpgw moves or renames one of them, update the row here; a row
that names nothing stops the profile with a sentence that says which.
"""
from __future__ import annotations

import functools
import importlib
import time
from collections import Counter
from typing import Any

STORE = "store: keys + redis-py EVALSHA (client CPU)"

# (label, owner, attribute): None of them calls another, so "rest" is the request's CPU
# less their sum. ``owner`` is a dotted module or class path; patching happens in this
# process only. Rows with one label add up.
TIMED = [
    ("marshmallow: build schemas (request + response)", "marshmallow.Schema", "__init__"),
    ("marshmallow: load request", "marshmallow.Schema", "load"),
    ("marshmallow: dump response", "marshmallow.Schema", "dump"),
    ("phonenumbers: parse, validate, type, format", "otpgw.otp.service", "parse_phone"),
    ("HMAC: phone tag", "otpgw.domain.codes", "identity_tag"),
    ("HMAC: code digest(s)", "otpgw.domain.codes", "code_digest"),
    ("random code + id", "otpgw.domain.codes", "generate_code"),
    ("random code + id", "otpgw.domain.codes", "new_id"),
    ("SMS text render", "otpgw.otp.service", "render"),
    ("Fernet seal", "otpgw.domain.sealing.Sealer", "seal"),
    (STORE, "otpgw.store.codes.CodeStore", "issue"),
    (STORE, "otpgw.store.codes.CodeStore", "verify"),
    ("log lines: audit + access (JSON, redact, write)", "logging.Logger", "info"),
    ("prometheus: labels()", "prometheus_client.metrics.MetricWrapperBase", "labels"),
    ("prometheus: counter inc + histogram observe", "prometheus_client.metrics.Counter", "inc"),
    ("prometheus: counter inc + histogram observe", "prometheus_client.metrics.Histogram", "observe"),
]
MINIMAL_EVALSHA = (STORE, "benchmarks.minimal_app", "_count")  # the minimal app's share of the store row
LABELS = list(dict.fromkeys(label for label, _, _ in TIMED))  # the table's row order


class CpuMeter:
    """Adds up the CPU time spent inside patched callables, by label, while ``on``."""

    def __init__(self) -> None:
        self.spent: Counter = Counter()
        self.on = False

    def patch(self, label: str, owner_path: str, attribute: str) -> None:
        try:
            owner = _resolve(owner_path)
            original = getattr(owner, attribute)
        except (ImportError, AttributeError) as exc:
            raise LookupError(f"--profile times {owner_path}.{attribute} for {label!r}, which does not exist: "
                              "update TIMED in benchmarks/pieces.py to what otpgw now calls") from exc

        @functools.wraps(original)
        def timed(*a: Any, **kw: Any) -> Any:
            if not self.on:
                return original(*a, **kw)
            started = time.process_time()
            try:
                return original(*a, **kw)
            finally:
                self.spent[label] += time.process_time() - started

        setattr(owner, attribute, timed)


def _resolve(owner_path: str) -> Any:
    """A module, or else a class given as module path then class name."""
    try:
        return importlib.import_module(owner_path)
    except ImportError:
        module, _, name = owner_path.rpartition(".")
        return getattr(importlib.import_module(module), name)
