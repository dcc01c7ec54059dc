"""otpgw served by a real gunicorn, as an attacker and an operator meet it.

Bodies: a chunked body over the size limit is refused whatever its framing; a body that
trickles in is cut off with 408. Probes: the gunicorn master answers them on a port of
its own while every worker slot is held by stalled clients. gunicorn's own errors come in
the JSON envelope. Draining: once ``otpgw drain`` has run, answers close their connection.
"""
from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from conftest import API_KEY, PHONE
from support.gunicorn import gunicorn  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow  # gunicorn subprocesses


def raw_request(port: int, head: str, body: bytes = b"", *, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send a hand-written request; return (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin1") + body)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """Read one answer off ``sock``: (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers, rest


def chunked(payload: bytes, size: int = 1000) -> bytes:
    parts = [payload[i:i + size] for i in range(0, len(payload), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


HEAD = ("POST /otp/send HTTP/1.1\r\nHost: otpgw\r\nAuthorization: Bearer " + API_KEY +
        "\r\nContent-Type: application/json\r\n")


class TestBodies:
    """Every body is measured and timed, whatever its framing."""

    def test_chunked_body_over_the_limit_is_413_even_when_its_start_is_a_whole_object(self, gunicorn):
        server = gunicorn("gevent", workers=1)
        start = json.dumps({"phone": PHONE}).encode()
        payload = start + b" " * (5000 - len(start))  # a valid object, padded past 4096 bytes
        status, _, body = raw_request(server.port, HEAD + "Transfer-Encoding: chunked\r\n\r\n", chunked(payload))
        assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"

    def test_chunked_body_within_the_limit_is_served(self, gunicorn):
        server = gunicorn("gevent", workers=1)
        status, _, body = raw_request(server.port, HEAD + "Transfer-Encoding: chunked\r\n\r\n",
                                      chunked(json.dumps({"phone": PHONE}).encode(), 5))
        assert status == 202, body

    def test_body_that_trickles_in_is_408(self, gunicorn):
        server = gunicorn("gevent", workers=1, OTPGW_BODY_TIMEOUT="1")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall((HEAD + "Content-Length: 100\r\n\r\n").encode() + b'{"phone": ')
            started = time.monotonic()
            status, _, body = read_answer(sock)
            waited = time.monotonic() - started
        assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
        assert waited < 5


class TestProbes:
    """The master's probe port answers while every worker slot is held by a stalled client."""

    def test_probes_answer_while_stalled_bodies_fill_every_slot(self, gunicorn):
        server = gunicorn("gevent", workers=1, OTPGW_WORKER_CONNECTIONS="20", OTPGW_BODY_TIMEOUT="30")
        stalled = []
        try:
            for _ in range(40):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                sock.sendall((HEAD + "Content-Length: 100\r\n\r\n").encode() + b"{")
                stalled.append(sock)
            time.sleep(0.5)
            with pytest.raises(requests.RequestException):
                requests.get(f"{server.base}/healthz", timeout=2)  # the API port is starved
            assert requests.get(f"{server.probes}/healthz", timeout=2).status_code == 200
            ready = requests.get(f"{server.probes}/readyz", timeout=2)
            assert ready.status_code == 200 and ready.json()["workers"] == 1
        finally:
            for sock in stalled:
                sock.close()


class TestGunicornErrors:
    """What gunicorn answers itself is in the envelope too."""

    @pytest.mark.parametrize(("request_text", "status"), [
        ("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
        ("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("POST /otp/send HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
    ])
    def test_malformed_request_is_answered_in_the_envelope(self, gunicorn, request_text, status):
        server = gunicorn("gevent", workers=1)
        got, headers, body = raw_request(server.port, request_text)
        assert got == status and headers["content-type"] == "application/json"
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message", "details"}


class TestDraining:
    """After `otpgw drain`, every answer closes its connection: nothing kept alive is reset later."""

    def test_answers_close_the_connection_once_draining(self, gunicorn):
        server = gunicorn("gevent", workers=1)
        with requests.Session() as session:
            assert session.get(f"{server.base}/healthz", timeout=5).headers.get("Connection") != "close"
            server.drain_file.write_text("1")
            time.sleep(1.1)  # the workers look at the file once a second
            reply = session.get(f"{server.base}/healthz", timeout=5)
        assert reply.status_code == 200 and reply.headers["Connection"] == "close"
