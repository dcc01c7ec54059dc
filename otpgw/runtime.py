"""Assemble the long-running pieces from Settings: worker, dev process, operator tool.

``create_app`` wires the HTTP side; this module wires the rest, so ``cli`` stays a
thin layer of argument parsing.
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flask import Flask

from . import create_app, metrics
from .config import Settings
from .connection import connect
from .errors import OtpgwError
from .service import OtpService
from .store import RedisStore
from .transports import TransportError, transport_class
from .worker import DeliveryWorker

log = logging.getLogger(__name__)


def build_worker(settings: Settings, store: RedisStore | None = None) -> DeliveryWorker:
    transport = transport_class(settings.transport).from_settings(settings)
    if store is None:
        store = RedisStore(connect(settings, blocking_ms=settings.worker_block_ms), settings)
    return DeliveryWorker(settings, store, transport)


def build_dev(settings: Settings) -> tuple[Flask, DeliveryWorker]:
    """API and worker sharing one embedded store."""
    app = create_app(settings, embedded=True)
    store = app.extensions["otpgw.service"].store
    return app, build_worker(settings, store)


def serve_worker_health(worker: DeliveryWorker, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """/healthz (process alive), /readyz (Redis and transport usable), /metrics, in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/healthz":
                return self._reply(200, {"status": "ok"})
            if self.path == "/readyz":
                try:
                    worker.store.ping()
                    worker.transport.check()
                except (OtpgwError, TransportError) as exc:
                    return self._reply(503, {"error": {"code": "unavailable", "message": str(exc), "details": {}}})
                return self._reply(200, {"status": "ready"})
            if self.path == "/metrics":
                try:
                    metrics.observe_queue(worker.store, worker.name, worker.now_ms())
                except OtpgwError:
                    pass  # the counters are still worth scraping while Redis is away
                body, content_type = metrics.render()
                return self._reply(200, body, content_type)
            return self._reply(404, {"error": {"code": "not_found", "message": "no such path", "details": {}}})

        def _reply(self, status: int, body, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:  # probes every few seconds are noise
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="otpgw-health", daemon=True).start()
    return server


class Operator:
    """Operator actions on one phone or user_ref: unlock, opt-out, opt-in."""

    def __init__(self, service: OtpService):
        self.service = service

    def run(self, command: str, *, phone: str | None, user_ref: str | None, client: str | None) -> str:
        from .audit import audit

        if command == "unlock" and user_ref:
            released = self.service.store.release("user", self.service.user_tag(client or "anonymous", user_ref))
            audit("otp.release", scope="user_ref", client=client or "anonymous", was_locked=released)
            return "released" if released else "no lock was in force (failure count cleared)"
        e164 = self.service.phone(phone or "").e164
        tag = self.service.tag("phone", e164)
        if command == "unlock":
            released = self.service.store.release("phone", tag)
            audit("otp.release", scope="phone", phone=e164, was_locked=released)
            return "released" if released else "no lock was in force (failure count cleared)"
        self.service.store.set_opt_out(tag, command == "opt-out")
        audit("otp." + command.replace("-", "_"), phone=e164)
        return "opted out" if command == "opt-out" else "opted in"


def build_operator(settings: Settings) -> Operator:
    return Operator(OtpService(settings, RedisStore(connect(settings), settings)))
