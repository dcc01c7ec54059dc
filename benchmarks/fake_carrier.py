"""A carrier that answers like Twilio's Messages API after a fixed delay, for benchmarks.

A threaded HTTP/1.1 server with keep-alive: each request waits ``delay`` seconds (a real
carrier's reply time), then answers 201 with a message sid. It records when each
otpgw reference arrived (from the ``StatusCallback`` URL, which carries ``ref=<id>``), so
a benchmark can measure the time from ``/otp/send`` to the carrier.
"""
from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "FakeCarrier"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle and the client's
        # delayed ACK add 40 ms to every answer, which no real carrier does
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.time()
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        reference = parse_qs(urlsplit(form.get("StatusCallback", "")).query).get("ref", [""])[0]
        time.sleep(self.server.delay)
        self.server.record(reference, arrived)
        answer = json.dumps({"sid": f"SM{next(self.server.ids):032x}", "status": "queued",
                             "num_segments": "1"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: object) -> None:
        pass


class FakeCarrier(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, delay: float):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.ids = itertools.count(1)
        self.arrivals: dict[str, float] = {}
        self._lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, reference: str, arrived: float) -> None:
        with self._lock:
            self.arrivals.setdefault(reference, arrived)

    def __enter__(self) -> "FakeCarrier":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()
