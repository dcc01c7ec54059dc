"""The load generator: separate processes that keep ``--concurrency`` connections busy.

The processes are spawned, so they share no GIL with this one. Each is one gevent loop
with one raw HTTP/1.1 keep-alive connection per greenlet: a request, its whole
response, the next request; it reconnects when the server says ``Connection: close``
(the sync worker does after every request). Latency runs from the send, or from the
connect when one is needed, to the last byte. Only requests started inside the measured
window count; each process reports its latencies, outcomes and own CPU, and
``benchmarks.phases.PhaseResult`` merges them.
"""
from __future__ import annotations

import multiprocessing
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.scenarios import build_units, outcome_of


class LoadClients:
    """The load processes of one phase, each with one job (see ``benchmarks.scenarios``)."""

    def __init__(self, kind: str, port: int, jobs: list[dict[str, Any]]):
        ctx = multiprocessing.get_context("spawn")
        self.ready, self.go, self.results = ctx.Queue(), ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=client_main, args=({**job, "kind": kind, "port": port}, self.ready,
                                                               self.go, self.results), daemon=True) for job in jobs]

    def start(self, warmup: float, duration: float) -> tuple[float, float]:
        """Start them, wait until each has built its requests, then let all begin at once:
        ``warmup`` seconds unmeasured, then ``duration`` measured. Returns the measured
        window (``time.monotonic()`` values, which all processes share)."""
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            self.ready.get(timeout=300)
        measure_from = time.monotonic() + warmup
        end_at = measure_from + duration
        for _ in self.procs:
            self.go.put((measure_from, end_at))
        return measure_from, end_at

    def reports(self) -> list[dict[str, Any]]:
        return [self.results.get(timeout=120) for _ in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()


def greenlet_counts(concurrency: int, processes: int) -> list[int]:
    """Connections per load process: ``concurrency`` spread as evenly as it goes."""
    return [len(range(i, concurrency, processes)) for i in range(processes)]


# -- inside a load process --------------------------------------------------------------
@dataclass
class ClientStats:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    taken: int = 0  # units handed out so far (shared by the process's connections)
    wrapped: bool = False  # ran out of distinct units and started over


def client_main(job: dict[str, Any], ready, go, results) -> None:
    """A load-generator process: build the requests, wait for the start, drive, report."""
    import gevent

    units = build_units(job)
    ready.put(os.getpid())
    measure_from, end_at = go.get()
    stats = ClientStats()
    greenlets = [gevent.spawn(drive, job["kind"], job["port"], units, measure_from, end_at, stats)
                 for _ in range(job["greenlets"])]
    gevent.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_from = sum(os.times()[:2])
    gevent.sleep(max(0.0, end_at - time.monotonic()))
    cpu_to = sum(os.times()[:2])
    gevent.joinall(greenlets)
    results.put({"latencies": stats.latencies, "outcomes": dict(stats.outcomes), "wrapped": stats.wrapped,
                 "cpu": cpu_to - cpu_from})


def drive(kind: str, port: int, units: list[list[bytes]], measure_from: float, end_at: float,
          stats: ClientStats) -> None:
    """One connection's loop: a request, its whole response, the next request."""
    from gevent import socket as gsocket

    conn, buf = None, bytearray()
    while time.monotonic() < end_at:
        unit = units[stats.taken % len(units)]
        stats.taken += 1  # greenlets switch only on I/O, so this needs no lock
        stats.wrapped |= stats.taken > len(units)
        for request in unit:
            started = time.monotonic()
            try:
                if conn is None:
                    conn = gsocket.create_connection(("127.0.0.1", port))
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.sendall(request)
                status, body, closing = read_response(conn, buf)
                outcome = outcome_of(kind, status, body)
            except OSError as exc:
                outcome, closing = f"error {type(exc).__name__}", True
            if started >= measure_from:
                stats.latencies.append(time.monotonic() - started)
                stats.outcomes[outcome] += 1
            if closing and conn is not None:
                conn.close()
                conn, buf = None, bytearray()
    if conn is not None:
        conn.close()


def read_response(conn, buf: bytearray) -> tuple[int, bytes, bool]:
    """(status, body, server closes) of one HTTP/1.1 response with a Content-Length;
    ``buf`` keeps what arrived beyond it."""
    while (end := buf.find(b"\r\n\r\n")) < 0:
        _receive(conn, buf)
    head = bytes(buf[:end]).lower()
    length = _content_length(head)
    while len(buf) < end + 4 + length:
        _receive(conn, buf)
    body = bytes(buf[end + 4:end + 4 + length])
    del buf[:end + 4 + length]
    return int(head[9:12]), body, b"\r\nconnection: close" in head


def _receive(conn, buf: bytearray) -> None:
    chunk = conn.recv(65536)
    if not chunk:
        raise ConnectionError("server closed the connection")
    buf += chunk


def _content_length(head: bytes) -> int:
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    stop = head.find(b"\r\n", start + 2)
    return int(head[start + 17:stop if stop > 0 else len(head)])
