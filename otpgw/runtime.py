"""Assemble the long-running pieces from Settings: transports, a worker, the dev process.

``create_app`` wires the HTTP side; this module wires the rest, so ``cli`` stays a thin
layer of argument parsing.
"""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from .app import create_app
from .config import Settings, SettingsError
from .delivery.worker import DeliveryWorker
from .events import metrics
from .store import Store
from .transports import Transport, build_transport, transport_class
from .web import Probes, probe_app, serve_in_thread

if TYPE_CHECKING:
    from flask import Flask


def select_transports(settings: Settings, names: list[str] | None) -> list[str]:
    """The transports a worker owns: the named ones, else every one that is not host-bound."""
    if not names:
        return [n for n, c in settings.transports.items() if not transport_class(c.type).host_bound]
    for name in names:
        if name not in settings.transports:
            close = difflib.get_close_matches(name, list(settings.transports), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SettingsError(f"--transport: no transport {name!r} is configured{hint} "
                                f"(configured: {', '.join(settings.transports)})")
    return list(dict.fromkeys(names))


def build_transports(settings: Settings, names: list[str]) -> list[Transport]:
    return [build_transport(settings.transports[name]) for name in names]


def build_worker(settings: Settings, names: list[str] | None = None, store: Store | None = None) -> DeliveryWorker:
    transports = build_transports(settings, select_transports(settings, names))
    if store is None:
        store = Store.connect(settings, blocking_ms=settings.delivery.block_ms)
    return DeliveryWorker(settings, store, transports, serves_shared=not names or any(
        not t.host_bound for t in transports))


def build_dev(settings: Settings) -> tuple["Flask", DeliveryWorker]:
    """API and one worker sharing one embedded store; the worker owns every transport."""
    app = create_app(settings, embedded=True)
    worker = build_worker(settings, list(settings.transports), store=app.extensions["otpgw.store"])
    return app, worker


def worker_probes(worker: DeliveryWorker) -> Probes:
    def ready() -> dict[str, Any]:
        worker.store.ping()
        transports = {name: t.health() for name, t in worker.transports.items()}
        return {"ready": all(h.ready for h in transports.values()),
                "transports": {name: {"ready": h.ready, **({"detail": h.detail} if h.detail else {}), **h.facts}
                               for name, h in transports.items()}}

    def refresh() -> None:
        metrics.observe_lanes(worker.store.queue, worker.lanes, worker.now_ms())

    return Probes(ready, refresh)


def serve_probes(worker: DeliveryWorker, port: int, host: str = "0.0.0.0"):
    """The worker's /healthz, /readyz and /metrics on ``host:port``, in a thread."""
    return serve_in_thread(probe_app(worker_probes(worker)), host, port, "otpgw-probes")

