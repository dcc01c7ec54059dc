"""The measured phases and what each saw: four per worker class, one Redis for all four.

otpgw's three run first: ``/healthz``, whose rate sizes the codes seeded for verify (no
request that also goes to Redis can beat it), then send, then verify. Then otpgw is
stopped, so the two apps never share the CPUs, and the minimal app runs under the same
gunicorn settings against the same Redis. Every process started here is stopped in a
``finally``; the temporary directory goes too unless ``--keep``.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import cputime
from benchmarks.loadgen import LoadClients, greenlet_counts
from benchmarks.pyspy import PySpy
from benchmarks.scenarios import (HEALTHZ, SCENARIOS, healthz_jobs, http_request, minimal_jobs, seed_codes,
                                  send_jobs, verify_jobs)
from benchmarks.servers import MINIMAL_APP, OTPGW_APP, Gunicorn, RedisServer, free_port, server_env, threads_for


@dataclass
class PhaseResult:
    """What one measured phase saw: every latency, every outcome, and the CPU spent."""

    kind: str
    seconds: float
    latencies: list[float]
    outcomes: Counter
    wrapped: bool  # a load process ran out of distinct requests and repeated them
    cpu: dict[str, float]  # CPU seconds in the measured window: workers, master, redis, loadgen, others
    profile: dict[str, int] = field(default_factory=dict)  # py-spy samples of the workers by component

    @classmethod
    def from_reports(cls, kind: str, seconds: float, reports: list[dict[str, Any]], cpu: dict[str, float],
                     profile: dict[str, int]) -> "PhaseResult":
        """Merge the reports of every load process (see ``benchmarks.loadgen.client_main``)."""
        return cls(kind, seconds, [x for r in reports for x in r["latencies"]],
                   sum((Counter(r["outcomes"]) for r in reports), Counter()),
                   any(r["wrapped"] for r in reports), cpu, profile)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, q: float) -> float:
        """Milliseconds; NaN when nothing was measured."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def per_request_us(self, part: str) -> float:
        return self.cpu[part] / max(1, self.count) * 1e6

    @property
    def unexpected(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome not in SCENARIOS[self.kind].expected)


def bench_worker_class(args: argparse.Namespace, worker_class: str) -> list[PhaseResult]:
    """healthz, send, verify against otpgw, then the minimal app, all under ``worker_class``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"otpgw-bench-{worker_class}-"))
    redis = otpgw = minimal = None
    try:
        redis = RedisServer(workdir).start()
        port = free_port()
        env = server_env(args, worker_class, threads_for(args, worker_class), redis.url, port, workdir)
        otpgw = Gunicorn(OTPGW_APP, env, workdir / "otpgw.log", args.workers).start(HEALTHZ)
        counts = greenlet_counts(args.concurrency, args.client_procs)
        results = [run_phase("healthz", port, healthz_jobs(counts), args, otpgw, redis)]
        results.append(run_phase("send", port, send_jobs(args, counts), args, otpgw, redis))
        codes = seed_codes(args, env, results[0].rate)
        results.append(run_phase("verify", port, verify_jobs(codes, counts), args, otpgw, redis))
        otpgw.stop()
        minimal = Gunicorn(MINIMAL_APP, env, workdir / "minimal.log", args.workers).start(
            http_request("minimal", {"key": "probe"}))
        results.append(run_phase("minimal", port, minimal_jobs(counts), args, minimal, redis))
        return results
    finally:
        for proc in (minimal, otpgw, redis):
            if proc:
                proc.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run_phase(kind: str, port: int, jobs: list[dict[str, Any]], args: argparse.Namespace, server: Gunicorn,
              redis: RedisServer) -> PhaseResult:
    """Start the load processes, let them warm up, measure ``--duration`` seconds."""
    clients = LoadClients(kind, port, jobs)
    spy = None
    try:
        measure_from, end_at = clients.start(args.warmup, args.duration)
        time.sleep(max(0.0, measure_from - time.monotonic()))
        before = cputime.snapshot(server, redis)
        spy = PySpy.start(args, server, kind)
        time.sleep(max(0.0, end_at - time.monotonic()))
        after = cputime.snapshot(server, redis)
        reports = clients.reports()
        profile = spy.samples() if spy else {}
    finally:
        if spy:
            spy.stop()
        clients.stop()
    cpu = cputime.spent(before, after, loadgen=sum(r["cpu"] for r in reports))
    return PhaseResult.from_reports(kind, args.duration, reports, cpu, profile)
