"""Assemble the long-running pieces from Settings: transports, a worker, the dev process.

``create_app`` wires the HTTP side; this module wires the rest, so ``cli`` stays a thin
layer of argument parsing.
"""
from __future__ import annotations

import difflib
import threading
from typing import TYPE_CHECKING, Any, TextIO

from .app import create_app
from .config import Settings, SettingsError
from .delivery.worker import DeliveryWorker
from .events import metrics
from .otp.messages import gateway_webhooks
from .store import Store
from .transports import Transport, build_transport, transport_class
from .transports.console import ConsoleTransport
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


def build_transports(settings: Settings, names: list[str], console_stream: TextIO | None = None) -> list[Transport]:
    """``console_stream``: where console transports print (dev mode's demo inbox), else stdout."""
    built = [build_transport(settings.transports[name]) for name in names]
    return [ConsoleTransport(console_stream, name=t.name)
            if console_stream is not None and isinstance(t, ConsoleTransport) else t for t in built]


def build_worker(settings: Settings, names: list[str] | None = None, store: Store | None = None,
                 console_stream: TextIO | None = None, lanes: list[str] | None = None) -> DeliveryWorker:
    """``lanes``: the shared lanes to read (``otp``, ``bulk``); default both."""
    transports = build_transports(settings, select_transports(settings, names), console_stream)
    if store is None:
        store = Store.connect(settings, blocking_ms=settings.delivery.block_ms)
    return DeliveryWorker(settings, store, transports, serves_shared=not names or any(
        not t.host_bound for t in transports), shared_lanes=tuple(lanes) if lanes else None)


def build_dev(settings: Settings, inbox: Any = None) -> tuple["Flask", DeliveryWorker]:
    """API and one worker sharing one embedded store; the worker owns every transport.
    ``inbox`` (the demo page's simulated phone, ``web.demo.Inbox``) is where console
    transports write."""
    app = create_app(settings, embedded=True, inbox=inbox)
    worker = build_worker(settings, list(settings.transports), store=app.extensions["otpgw.store"],
                          console_stream=inbox)
    return app, worker


def start_webhooks(settings: Settings, store: Store, stop: threading.Event) -> threading.Thread:
    """The webhook dispatcher, in a thread of this (worker or dev) process, until ``stop``."""
    dispatcher = gateway_webhooks(settings, store)  # codes' events and those of /messages
    thread = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"block_ms": settings.delivery.block_ms},
                              name="otpgw-webhooks", daemon=True)
    thread.start()
    return thread


def worker_probes(worker: DeliveryWorker) -> Probes:
    def ready() -> dict[str, Any]:
        """Ready while Redis answers and at least one of its transports can send; each
        transport's own facts (a modem's signal, SIM, registration) and breaker are shown."""
        worker.store.ping()
        now = worker.now_ms()
        shown = {}
        for name, transport in worker.transports.items():
            health, gate = transport.health(), worker.store.gates.state(name, now)
            shown[name] = {"ready": health.ready, "breaker": gate.state, **health.facts,
                           **({"detail": health.detail} if health.detail else {})}
        return {"ready": any(t["ready"] for t in shown.values()), "transports": shown}

    def refresh() -> None:
        metrics.observe_lanes(worker.store.queue, worker.lanes, worker.now_ms())

    return Probes(ready, refresh)


def serve_probes(worker: DeliveryWorker, port: int, host: str = "0.0.0.0"):
    """The worker's /healthz, /readyz and /metrics on ``host:port``, in a thread."""
    return serve_in_thread(probe_app(worker_probes(worker)), host, port, "otpgw-probes")

