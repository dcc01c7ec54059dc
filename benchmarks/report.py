"""The printed output of a load run: the settings, then one Markdown table per worker class.

Tables are Markdown so they can go into ``benchmarks/README.md`` as printed. Anything a
reader could mistake for a clean run (an unexpected status, repeated single-use
requests) gets a ``WARNING`` line under its table.
"""
from __future__ import annotations

import argparse
import os
import sys

from benchmarks.phases import PhaseResult
from benchmarks.pyspy import COMPONENTS
from benchmarks.scenarios import SCENARIOS
from benchmarks.seed import BENCH_OVERRIDES
from benchmarks.servers import threads_for


def print_settings(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} CPUs (the load generator runs on the same CPUs as the server)")
    print(f"load: concurrency {args.concurrency} keep-alive connections over {args.client_procs} gevent processes; "
          f"{args.warmup:g} s warm-up, {args.duration:g} s measured per phase")
    print(f"otpgw: log level {args.log_level}, prometheus multiprocess mode "
          f"{'on' if args.multiproc_metrics else 'off'}; benchmark limits {BENCH_OVERRIDES} "
          "(per-IP, window, cooldown and lockout limits moved out of the way: still checked, never reached)")
    print(flush=True)


def print_table(args: argparse.Namespace, worker_class: str, results: list[PhaseResult]) -> None:
    """One row per phase, the comparison with the minimal app, warnings, py-spy shares."""
    threads = threads_for(args, worker_class)
    extra = {"gthread": f" x {threads} threads", "gevent": ", worker_connections 200"}.get(worker_class, "")
    print(f"\n### worker class {worker_class}: {args.workers} workers{extra}\n")
    print("| scenario | req/s | p50 ms | p99 ms | workers CPU µs/req | redis µs/req | loadgen µs/req "
          "| other load, CPUs | outcomes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(r.outcomes.items()))
        print(f"| {SCENARIOS[r.kind].title} | {r.rate:,.0f} | {r.percentile(0.5):.1f} | {r.percentile(0.99):.1f} "
              f"| {r.per_request_us('workers'):.0f} | {r.per_request_us('redis'):.0f} "
              f"| {r.per_request_us('loadgen'):.0f} | {max(0.0, r.cpu['others']) / r.seconds:.2f} | {outcomes} |")
    by = {r.kind: r for r in results}
    base = by["minimal"]
    print(f"\nvs minimal EVALSHA app: send {by['send'].rate / base.rate:.0%} of its req/s "
          f"({_cpu_ratio(by['send'], base)} its worker CPU per request), verify {by['verify'].rate / base.rate:.0%} "
          f"({_cpu_ratio(by['verify'], base)}); /healthz {by['healthz'].rate / base.rate:.0%}")
    for r in results:
        if r.unexpected or (r.wrapped and r.kind in ("send", "verify")):
            print(f"WARNING {SCENARIOS[r.kind].title}: {r.unexpected} unexpected outcomes"
                  + ("; ran out of distinct requests and repeated them" if r.wrapped else ""))
    print_samples([r for r in results if r.profile])
    sys.stdout.flush()


def print_samples(results: list[PhaseResult]) -> None:
    """Worker CPU per request split by the share of py-spy samples in each component."""
    if not results:
        return
    print("\nworker CPU µs per request by component (py-spy on-CPU samples of all workers):\n")
    print("| component | " + " | ".join(SCENARIOS[r.kind].title for r in results) + " |")
    print("| --- |" + " ---: |" * len(results))
    for name in COMPONENTS:
        cells = []
        for r in results:
            share = r.profile.get(name, 0) / max(1, sum(r.profile.values()))
            cells.append(f"{share * r.per_request_us('workers'):.0f} ({share:.0%})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("| total | " + " | ".join(f"{r.per_request_us('workers'):.0f}" for r in results) + " |")


def _cpu_ratio(r: PhaseResult, base: PhaseResult) -> str:
    return f"{(r.cpu['workers'] / r.count) / (base.cpu['workers'] / base.count):.2f}x"
