"""Shared fixtures: a private real redis-server, settings, apps and clients.

The tests start their own ``redis-server`` on a free loopback port and never touch
a server they did not start. If the binary is missing they install it with apt-get
when they can (CI runs as root) and otherwise fail loudly: real-Redis tests never
skip.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis

from otpgw import create_app
from otpgw.config import load_settings

SECRET = "test-secret-key-0123456789abcdef"
API_KEY = "test-api-key-0123456789"
OTHER_KEY = "other-api-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER_KEY}"}
PHONE = "+14155552671"
OTHER_PHONE = "+14155552672"


ROOT = Path(__file__).resolve().parent.parent


def find_redis_server() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server")
         if os.access(p, os.X_OK)), None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=False, env=env, capture_output=True)
        found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)
        if found:
            return found
    pytest.fail("redis-server is not installed and could not be installed (apt-get install redis-server)",
                pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server process owned by a test, on its own port and directory.

    ``with RedisServer() as server`` starts it and, on exit, stops it and removes its
    directory; ``stop()`` and ``start()`` alone keep port and directory for a restart.
    ``extra_args`` go on the command line (cluster mode, say).
    """

    def __init__(self, *extra_args: str) -> None:
        self.extra_args = extra_args
        self.binary = find_redis_server()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="otpgw-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--maxclients", "1000", *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


@pytest.fixture(scope="session")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_client(redis_server):
    """A client of the private server, emptied before each test (the server is ours alone)."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def make_settings(redis_server):
    def build(**overrides):
        values = dict(secret_keys=(SECRET,), api_keys=(("app", API_KEY), ("other", OTHER_KEY)),
                      redis_url=redis_server.url, transport="fake")
        values.update(overrides)
        return load_settings(environ={}, **values)

    return build


class Clock:
    """A clock tests move by hand; starts at the real time so Redis TTLs stay sensible."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_app(make_settings, redis_client):
    def build(clock=None, **overrides):
        app = create_app(make_settings(**overrides), clock=clock)
        app.testing = True
        return app

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["otpgw.service"]


@pytest.fixture
def store(app):
    return app.extensions["otpgw.store"]


def operator(app):
    """The operator tool over an app's settings and store, as `otpgw unlock|opt-out` builds it."""
    from otpgw.admin import Operator

    return Operator(app.extensions["otpgw.settings"], app.extensions["otpgw.store"].locks)


@pytest.fixture
def threads():
    """Worker threads with their stop events; every one is stopped and joined at the end."""
    running: list[tuple[threading.Thread, threading.Event]] = []

    def start(target, stop: threading.Event | None = None) -> tuple[threading.Thread, threading.Event]:
        stop = stop or threading.Event()
        thread = threading.Thread(target=target, args=(stop,), daemon=True)
        thread.start()
        running.append((thread, stop))
        return thread, stop

    yield start
    for thread, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join(15)


def sent_code(app, code_id: str) -> str:
    """Read the code out of the sealed queued message, as the worker would (tests only)."""
    service = app.extensions["otpgw.service"]
    store = app.extensions["otpgw.store"]
    for _, fields in store.client.xrange(store.keys.lane("otp")):
        if fields[b"id"].decode() == code_id:
            text = service.sealer.open(fields[b"sealed"])["text"]
            return next(tok for tok in text.replace(".", " ").replace(",", " ").split() if tok.isdigit())
    raise AssertionError(f"no queued message for {code_id}")


def send(client, phone: str = PHONE, headers=None, **fields):
    return client.post("/otp/send", json={"phone": phone, **fields}, headers=headers or AUTH)


def verify(client, headers=None, **fields):
    return client.post("/otp/verify", json=fields, headers=headers or AUTH)



class ChildProcess:
    """A child process whose combined output is collected line by line by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def json_lines(self) -> list[dict]:
        parsed = []
        for line in list(self.lines):
            if line.startswith("{"):
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    pass
        return parsed

    def wait_for(self, condition, *, timeout: float = 20.0, what: str = "output") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch the last lines
                if condition():
                    return
                raise AssertionError(f"process exited ({self.proc.returncode}) before {what}:\n{self.output[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.output[-4000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Signal and wait; kill if it does not exit in time. Returns the exit code (None if killed)."""
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        else:
            code = self.proc.returncode
        self._reader.join(5)
        self.proc.stdout.close()
        return code
