"""A real HTTP server on 127.0.0.1 that plays a carrier: records requests, fails on demand.

``FakeCarrier`` is the base of the fake Twilio, Vonage and generic APIs in
``carriers`` and of ``CallbackRecorder``. Start it with ``with SomeCarrier() as c:``
(or ``.start()`` / ``.close()``); its base URL is ``c.url``. Every request is kept, in
order, in ``c.requests`` (``RecordedRequest``: method, path, query, headers, body,
``form``, ``json``, ``basic_auth``). ``c.fail_next(Fault..., ...)`` queues faults that
replace the next answers one by one:

- ``Fault.reply(status, body, headers)`` any canned answer (a 500, a JSON error...);
- ``Fault.throttled(retry_after)`` a 429 with ``Retry-After`` (seconds or HTTP date);
- ``Fault.slow(seconds)`` the normal answer, late (beyond a client's read timeout);
- ``Fault.malformed()`` a 2xx whose body is not what the carrier documents;
- ``Fault.dropped()`` read the whole request, then close the connection unanswered
  (the carrier may have accepted it: the case of an unknown outcome).

The server speaks HTTP/1.1 with keep-alive, as carriers do, and ``close`` ends every
open connection and handler thread, so tests leave no socket behind.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    target: str = ""  # the request-target as sent: path and raw query
    at: float = field(default_factory=time.time)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    @property
    def form(self) -> dict[str, str]:
        if "application/x-www-form-urlencoded" not in self.header("Content-Type"):
            return {}
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def json(self) -> Any:
        return json.loads(self.body) if "json" in self.header("Content-Type") else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        value = self.header("Authorization")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, document: Any, *headers: tuple[str, str]) -> "Answer":
        return cls(status, json.dumps(document).encode(), (("Content-Type", "application/json"), *headers))

    @classmethod
    def text(cls, status: int, text: str, *headers: tuple[str, str]) -> "Answer":
        return cls(status, text.encode(), (("Content-Type", "text/plain; charset=utf-8"), *headers))


@dataclass(frozen=True)
class Fault:
    """One answer that replaces the carrier's normal one (``answer`` None keeps it)."""

    answer: Answer | None = None
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def reply(cls, status: int, body: str | bytes = b"", *headers: tuple[str, str]) -> "Fault":
        data = body.encode() if isinstance(body, str) else body
        return cls(Answer(status, data, headers))

    @classmethod
    def server_error(cls, status: int = 500) -> "Fault":
        return cls(Answer.text(status, "<html><body>Internal Server Error</body></html>"))

    @classmethod
    def throttled(cls, retry_after: str | None = "7", body: Answer | None = None) -> "Fault":
        answer = body or Answer.text(429, "Too Many Requests")
        extra = (("Retry-After", retry_after),) if retry_after is not None else ()
        return cls(Answer(answer.status, answer.body, answer.headers + extra))

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        return cls(delay=seconds)

    @classmethod
    def malformed(cls, status: int = 200, body: str = "<html>upstream says hello</html>") -> "Fault":
        return cls(Answer.text(status, body))

    @classmethod
    def dropped(cls) -> "Fault":
        return cls(drop=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # an idle keep-alive connection must not hold a thread forever
    server: "_Server"

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                                  dict(self.headers.items()), body, self.path)
        carrier = self.server.carrier
        fault = carrier.record(request)
        if fault.drop:
            self.close_connection = True
            return
        if fault.delay:
            carrier.closing.wait(fault.delay)
        self._write(fault.answer or carrier.answer(request))

    def _write(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # joined on close, so no thread outlives the test
    block_on_close = True

    def __init__(self, carrier: "FakeCarrier") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.carrier = carrier
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def end_connections(self) -> None:
        with self._lock:
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow answer breaks the pipe: expected here


class FakeCarrier:
    """Base of every fake carrier; subclasses implement ``answer``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.closing = threading.Event()
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"{type(self).__name__}-server", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeCarrier":
        self._thread.start()
        return self

    def close(self) -> None:
        self.closing.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.end_connections()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def record(self, request: RecordedRequest) -> Fault:
        with self._lock:
            self.requests.append(request)
            return self._faults.popleft() if self._faults else Fault()

    def answer(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float = 10.0,
                 what: str = "requests") -> list[RecordedRequest]:
        """Wait until ``predicate(requests)`` holds; returns the requests so far."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                snapshot = list(self.requests)
            if predicate(snapshot):
                return snapshot
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {len(snapshot)}: "
                                     + "; ".join(f"{r.method} {r.target}" for r in snapshot[-5:]))
            time.sleep(0.02)


class CallbackRecorder(FakeCarrier):
    """A server that records the callbacks a carrier (Kannel) makes and answers 200."""

    def __init__(self, body: str = "") -> None:
        super().__init__()
        self.body = body

    def answer(self, request: RecordedRequest) -> Answer:
        return Answer.text(200, self.body)
