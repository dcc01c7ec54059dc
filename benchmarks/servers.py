"""The servers a benchmark run owns: a private redis-server and gunicorn.

Both listen on free loopback ports. The Redis on 6379 is never used: ``RedisServer.start``
refuses a port whose ``INFO server`` names another process than the one it started.
gunicorn is the production entry point (``--config python:otpgw.gunicorn_conf``) with
its settings in ``OTPGW_*``, as ``server_env`` builds them. ``stop()`` may be called at any
time, also before ``start()``, so callers call it in a ``finally``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.seed import BENCH_API_KEY, BENCH_CLIENT, BENCH_OVERRIDES

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789abcdef"
OTPGW_APP = "otpgw.wsgi:application"
MINIMAL_APP = "benchmarks.minimal_app:application"
CLASSES = ("sync", "gthread", "gevent")


class RedisServer:
    """A redis-server of our own (never the one on 6379), in a temporary directory."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxclients", "4000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: probe(self.port, b"PING\r\n", b"+PONG"), self.proc, "redis-server")
        info = socket_exchange(self.port, b"INFO server\r\n")
        if f"process_id:{self.proc.pid}\r\n".encode() not in info:  # the port was taken meanwhile
            raise RuntimeError(f"port {self.port} answers, but not from the redis-server we started")
        return self

    def stop(self) -> None:
        stop_process(self.proc)


class Gunicorn:
    """``python -m gunicorn --config python:otpgw.gunicorn_conf APP``; output goes to ``log``."""

    def __init__(self, app: str, env: dict[str, str], log: Path, workers: int, output: str = "pipe"):
        self.app, self.env, self.log, self.workers, self.output = app, env, log, workers, output
        self.port = int(env["OTPGW_BIND"].rpartition(":")[2])
        self.proc: subprocess.Popen | None = None
        self.sink: subprocess.Popen | None = None

    def start(self, probe_request: bytes) -> "Gunicorn":
        """Ready once every worker is up and ``probe_request`` gets a 2xx.

        ``output`` "pipe": into a pipe, as a container's stdout, drained by ``cat`` into
        ``log`` (the container runtime's part: outside the server, and as quick); "file":
        straight into ``log``; "null": /dev/null (what the log lines cost without a reader)."""
        command = [sys.executable, "-m", "gunicorn", "--config", "python:otpgw.gunicorn_conf", self.app]
        if self.output == "pipe":
            with open(self.log, "ab") as out:
                self.sink = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=out)
            self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.sink.stdin,
                                         stderr=subprocess.STDOUT)
            self.sink.stdin.close()  # gunicorn holds the write end; cat ends when gunicorn does
        else:
            with open(self.log if self.output == "file" else os.devnull, "ab") as out:
                self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: len(self.worker_pids()) == self.workers and probe(self.port, probe_request, b"HTTP/1.1 2"),
                   self.proc, f"gunicorn {self.app} (see {self.log})")
        return self

    def worker_pids(self) -> list[int]:
        if not self.proc:
            return []
        try:
            return [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        stop_process(self.proc)
        if self.sink is not None:
            try:
                self.sink.wait(5)  # cat ends once it has written what gunicorn left in the pipe
            except subprocess.TimeoutExpired:
                pass
        stop_process(self.sink)


def server_env(args: argparse.Namespace, worker_class: str, threads: int, redis_url: str, port: int,
               workdir: Path) -> dict[str, str]:
    """This process's environment without its own ``OTPGW_*``, plus the benchmark's
    settings, ``PYTHONUNBUFFERED`` and ``PROMETHEUS_MULTIPROC_DIR`` as the image sets them."""
    values: dict[str, Any] = {
        "bind": f"127.0.0.1:{port}", "workers": args.workers, "worker_class": worker_class, "threads": threads,
        "secret_keys": SECRET, "api_keys": f"{BENCH_CLIENT}:{BENCH_API_KEY}", "redis_url": redis_url,
        "log_level": args.log_level, "health_port": free_port(), **BENCH_OVERRIDES}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTPGW_", "PROMETHEUS_MULTIPROC_DIR"))}
    env.update({"OTPGW_" + k.upper(): str(v) for k, v in values.items()})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"  # as in the container image
    if args.multiproc_metrics:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")  # as in the container image
    return env


def threads_for(args: argparse.Namespace, worker_class: str) -> int:
    """``--threads`` if given, else ``--gthreads`` for gthread and 1 for the others."""
    return args.threads if args.threads else (args.gthreads if worker_class == "gthread" else 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


def probe(port: int, request: bytes, expect: bytes) -> bool:
    try:
        return socket_exchange(port, request).startswith(expect)
    except OSError:
        return False


def socket_exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` and return the first reply bytes (up to 64 KiB)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(request)
        time.sleep(0.05)  # let a multi-packet reply (INFO) arrive whole
        return sock.recv(65536)


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM (gunicorn stops its workers gracefully), SIGKILL after 30 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
