"""The measured phases and what each saw: four per round, ``--rounds`` rounds, one Redis.

otpgw and the minimal app both run under the same gunicorn settings, on two ports,
against one Redis; the one not being measured is idle. A round measures ``/healthz``,
the minimal app, then send, then verify (of the codes that send just issued, topped up
by seeding), so every figure of otpgw has a figure of the minimal app taken under the
same conditions next to it, and the medians over the rounds damp the noise of other work
on the machine. After the last round the workers' memory is read. Every process started
here is stopped in a ``finally``; the temporary directory goes too unless ``--keep``.
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
from benchmarks.memory import worker_memory
from benchmarks.pyspy import PySpy
from benchmarks.scenarios import (
    HEALTHZ,
    SCENARIOS,
    VerifyCodes,
    healthz_jobs,
    http_request,
    minimal_jobs,
    send_jobs,
    verify_jobs,
)
from benchmarks.servers import MINIMAL_APP, OTPGW_APP, Gunicorn, RedisServer, free_port, server_env, threads_for


@dataclass
class PhaseResult:
    """What one measured phase saw: every latency, every outcome, and the CPU spent."""

    kind: str
    round: int
    seconds: float
    latencies: list[float]
    outcomes: Counter
    wrapped: bool  # a load process ran out of distinct requests and repeated them
    cpu: dict[str, float]  # CPU seconds in the measured window: workers, master, redis, loadgen, others
    profile: dict[str, int] = field(default_factory=dict)  # py-spy samples of the workers by component

    @classmethod
    def from_reports(cls, kind: str, round_: int, seconds: float, reports: list[dict[str, Any]],
                     cpu: dict[str, float], profile: dict[str, int]) -> "PhaseResult":
        """Merge the reports of every load process (see ``benchmarks.loadgen.client_main``)."""
        return cls(kind, round_, seconds, [x for r in reports for x in r["latencies"]],
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


@dataclass
class ClassRun:
    """A worker class's run: every phase of every round, and the workers' memory after them."""

    phases: list[PhaseResult]
    memory: dict[str, dict[str, float]]  # "otpgw" | "minimal" -> rss_mib, pss_mib per worker


def bench_worker_class(args: argparse.Namespace, worker_class: str) -> ClassRun:
    """``--rounds`` rounds of healthz, minimal, send and verify under ``worker_class``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"otpgw-bench-{worker_class}-"))
    redis = otpgw = minimal = None
    try:
        redis = RedisServer(workdir).start()
        port, minimal_port = free_port(), free_port()
        env = server_env(args, worker_class, threads_for(args, worker_class), redis.url, port, workdir)
        otpgw = Gunicorn(OTPGW_APP, env, workdir / "otpgw.log", args.workers, args.server_output).start(HEALTHZ)
        minimal_env = {**env, "OTPGW_BIND": f"127.0.0.1:{minimal_port}", "OTPGW_HEALTH_PORT": "0",
                       "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics-minimal")}  # its own: gunicorn empties it
        minimal = Gunicorn(MINIMAL_APP, minimal_env, workdir / "minimal.log", args.workers, args.server_output).start(
            http_request("minimal", {"key": "probe"}))
        counts = greenlet_counts(args.concurrency, args.client_procs)
        codes = VerifyCodes(args, env)
        results: list[PhaseResult] = []
        for round_ in range(1, args.rounds + 1):
            print(f"  round {round_} of {args.rounds}", flush=True)
            results.append(ceiling := run_phase("healthz", round_, port, healthz_jobs(counts), args, otpgw, redis))
            results.append(base := run_phase("minimal", round_, minimal_port, minimal_jobs(counts), args, minimal,
                                             redis))
            mark = codes.mark()
            results.append(run_phase("send", round_, port, send_jobs(args, counts, round_), args, otpgw, redis))
            jobs = verify_jobs(codes.since(mark, max(ceiling.rate, base.rate)), counts)
            results.append(run_phase("verify", round_, port, jobs, args, otpgw, redis))
        memory = {"otpgw": worker_memory(otpgw.worker_pids()), "minimal": worker_memory(minimal.worker_pids())}
        return ClassRun(results, memory)
    finally:
        for proc in (minimal, otpgw, redis):
            if proc:
                proc.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run_phase(kind: str, round_: int, port: int, jobs: list[dict[str, Any]], args: argparse.Namespace,
              server: Gunicorn, redis: RedisServer) -> PhaseResult:
    """Start the load processes, let them warm up, measure ``--duration`` seconds."""
    clients = LoadClients(kind, port, jobs)
    spy = None
    try:
        measure_from, end_at = clients.start(args.warmup, args.duration)
        time.sleep(max(0.0, measure_from - time.monotonic()))
        before = cputime.snapshot(server, redis)
        spy = PySpy.start(args, server, kind, round_)
        time.sleep(max(0.0, end_at - time.monotonic()))
        after = cputime.snapshot(server, redis)
        reports = clients.reports()
        profile = spy.samples() if spy else {}
    finally:
        if spy:
            spy.stop()
        clients.stop()
    cpu = cputime.spent(before, after, loadgen=sum(r["cpu"] for r in reports))
    return PhaseResult.from_reports(kind, round_, args.duration, reports, cpu, profile)
