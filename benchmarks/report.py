"""The printed output of a load run: settings, per-round tables, medians, ratios, memory, sizing.

Tables are Markdown so they can go into ``benchmarks/README.md`` as printed. Anything a
reader could mistake for a clean run (an unexpected status, repeated single-use
requests) gets a ``WARNING`` line. The ratios against the minimal app are taken round
by round (each pair measured under the same conditions) and their median is checked
against the targets of issue 10 (``TARGETS``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Callable

from benchmarks.phases import ClassRun, PhaseResult
from benchmarks.pyspy import COMPONENTS
from benchmarks.scenarios import SCENARIOS
from benchmarks.seed import BENCH_OVERRIDES
from benchmarks.servers import threads_for

# issue 10: worker CPU per request (and requests/s) within these multiples of the minimal app's
TARGETS = {"send": 1.5, "verify": 1.2}
P99_TARGET = 1.2  # p99 latency at the same concurrency
KINDS = ("healthz", "minimal", "send", "verify")


def print_settings(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} CPUs (the load generator runs on the same CPUs as the server)")
    print(f"load: concurrency {args.concurrency} keep-alive connections over {args.client_procs} gevent processes; "
          f"{args.warmup:g} s warm-up, {args.duration:g} s measured per phase; {args.rounds} rounds of "
          "/healthz, minimal app, send, verify")
    print(f"otpgw: log level {args.log_level} (access and audit lines on), prometheus multiprocess mode "
          f"{'on' if args.multiproc_metrics else 'off'}, API keys required; benchmark limits {BENCH_OVERRIDES} "
          "(per-IP, window, cooldown and lockout limits moved out of the way: still checked, never reached)")
    print(flush=True)


def print_run(args: argparse.Namespace, worker_class: str, run: ClassRun) -> None:
    threads = threads_for(args, worker_class)
    connections = os.environ.get("OTPGW_WORKER_CONNECTIONS", "1000")
    extra = {"gthread": f" x {threads} threads", "gevent": f", worker_connections {connections}"}.get(worker_class, "")
    print(f"\n### worker class {worker_class}: {args.workers} workers{extra}\n")
    print_rounds(run.phases)
    print_medians(run.phases)
    print_ratios(run.phases)
    print_warnings(run.phases)
    print_samples(run.phases)
    print_worker_memory(run.memory)
    sys.stdout.flush()


def print_rounds(results: list[PhaseResult]) -> None:
    print("| round | scenario | req/s | p50 ms | p99 ms | workers CPU µs/req | redis µs/req | loadgen µs/req "
          "| other load, CPUs | outcomes |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(r.outcomes.items()))
        print(f"| {r.round} | {SCENARIOS[r.kind].title} | {r.rate:,.0f} | {r.percentile(0.5):.1f} "
              f"| {r.percentile(0.99):.1f} | {r.per_request_us('workers'):.0f} | {r.per_request_us('redis'):.0f} "
              f"| {r.per_request_us('loadgen'):.0f} | {other_load(r):.2f} | {outcomes} |")


def print_medians(results: list[PhaseResult]) -> None:
    rounds = len({r.round for r in results})
    print(f"\nMedians over {rounds} round(s), [min–max]:\n")
    print("| scenario | req/s | p50 ms | p99 ms | workers CPU µs/req | redis µs/req | other load, CPUs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in KINDS:
        of = [r for r in results if r.kind == kind]
        if not of:
            continue
        cells = [spread(of, lambda r: r.rate, "{:,.0f}"), spread(of, lambda r: r.percentile(0.5), "{:.1f}"),
                 spread(of, lambda r: r.percentile(0.99), "{:.1f}"),
                 spread(of, lambda r: r.per_request_us("workers"), "{:.0f}"),
                 spread(of, lambda r: r.per_request_us("redis"), "{:.0f}"), spread(of, other_load, "{:.2f}")]
        print(f"| {SCENARIOS[kind].title} | " + " | ".join(cells) + " |")


def print_ratios(results: list[PhaseResult]) -> None:
    """Round by round against the minimal app; the median of each ratio against the target."""
    print("\nAgainst the minimal EVALSHA app, round by round (median [min–max]); target in brackets:\n")
    print("| request | worker CPU per request | workers + Redis CPU per request | req/s | p99 latency |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind, target in TARGETS.items():
        pairs = paired(results, kind)
        if not pairs:
            continue
        cpu = ratio_cell(pairs, lambda r: r.per_request_us("workers"), f"≤ {target}×", lambda x: x <= target)
        server = ratio_cell(pairs, lambda r: r.per_request_us("workers") + r.per_request_us("redis"), "", None)
        rate = ratio_cell(pairs, lambda r: r.rate, f"≥ {1 / target:.2f}×", lambda x: x >= 1 / target)
        p99 = ratio_cell(pairs, lambda r: r.percentile(0.99), f"≤ {P99_TARGET}×", lambda x: x <= P99_TARGET)
        print(f"| {SCENARIOS[kind].title} | {cpu} | {server} | {rate} | {p99} |")


def paired(results: list[PhaseResult], kind: str) -> list[tuple[PhaseResult, PhaseResult]]:
    base = {r.round: r for r in results if r.kind == "minimal"}
    return [(r, base[r.round]) for r in results if r.kind == kind and r.round in base]


def ratio_cell(pairs, value: Callable[[PhaseResult], float], target: str, met: Callable[[float], bool] | None) -> str:
    ratios = [value(r) / value(b) for r, b in pairs if value(b)]
    if not ratios:
        return "–"
    middle = statistics.median(ratios)
    verdict = "" if met is None else (" ✔" if met(middle) else " ✘")
    return f"**{middle:.2f}×** [{min(ratios):.2f}–{max(ratios):.2f}]" + (f" ({target}{verdict})" if target else "")


def spread(results: list[PhaseResult], value: Callable[[PhaseResult], float], fmt: str) -> str:
    values = [value(r) for r in results]
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def other_load(r: PhaseResult) -> float:
    return max(0.0, r.cpu["others"]) / r.seconds


def print_warnings(results: list[PhaseResult]) -> None:
    for r in results:
        if r.unexpected or (r.wrapped and r.kind in ("send", "verify")):
            print(f"WARNING round {r.round} {SCENARIOS[r.kind].title}: {r.unexpected} unexpected outcomes"
                  + ("; ran out of distinct requests and repeated them" if r.wrapped else ""))


def print_samples(results: list[PhaseResult]) -> None:
    """Worker CPU per request (median over the rounds) split by the share of py-spy samples
    in each component (all rounds' samples together)."""
    kinds = [k for k in KINDS if any(r.profile for r in results if r.kind == k)]
    if not kinds:
        return
    print("\nworker CPU µs per request by component (py-spy on-CPU samples of all workers):\n")
    print("| component | " + " | ".join(SCENARIOS[k].title for k in kinds) + " |")
    print("| --- |" + " ---: |" * len(kinds))
    totals, cpu = {}, {}
    for kind in kinds:
        totals[kind] = {}
        for r in results:
            if r.kind == kind:
                for name, n in r.profile.items():
                    totals[kind][name] = totals[kind].get(name, 0) + n
        cpu[kind] = statistics.median(r.per_request_us("workers") for r in results if r.kind == kind)
    for name in COMPONENTS:
        cells = []
        for kind in kinds:
            share = totals[kind].get(name, 0) / max(1, sum(totals[kind].values()))
            cells.append(f"{share * cpu[kind]:.0f} ({share:.0%})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("| total | " + " | ".join(f"{cpu[k]:.0f}" for k in kinds) + " |")


def print_worker_memory(memory: dict[str, dict[str, float]]) -> None:
    print("\nmemory per gunicorn worker after the run (MiB): "
          + "; ".join(f"{app}: RSS {m['rss_mib']:.0f}, PSS {m['pss_mib']:.0f}" for app, m in memory.items()))


def print_redis_memory(figures: dict[str, float]) -> None:
    print(f"\nRedis memory ({figures['codes']:,} codes to as many phones, production defaults, INFO used_memory): "
          f"{figures['per_code']:,.0f} bytes per live code (record, digest, cooldown, send log, purge entry), "
          f"{figures['per_message']:,.0f} bytes per queued message (its sealed lane entry)")


def print_sizing(results: list[PhaseResult], pod_cpus: int) -> None:
    """Codes per second per core, per pod and per Redis primary, from the median CPU figures.
    A code is one send and one verify."""
    def median(kind: str, part: str) -> float:
        return statistics.median(r.per_request_us(part) for r in results if r.kind == kind)

    if not any(r.kind == "send" for r in results) or not any(r.kind == "verify" for r in results):
        return
    worker = median("send", "workers") + median("verify", "workers")
    redis = median("send", "redis") + median("verify", "redis")
    per_core, per_redis = 1e6 / worker, 1e6 / redis
    print(f"\nsizing (a code = one send + one verify; worker CPU {worker:.0f} µs, Redis CPU {redis:.0f} µs "
          "per code):\n")
    print("| unit | codes/s at 100 % CPU | at 70 % (headroom for bursts) |")
    print("| --- | ---: | ---: |")
    print(f"| one API CPU core (one gevent worker) | {per_core:,.0f} | {0.7 * per_core:,.0f} |")
    print(f"| one pod of {pod_cpus} CPUs ({pod_cpus} workers) | {pod_cpus * per_core:,.0f} "
          f"| {0.7 * pod_cpus * per_core:,.0f} |")
    print(f"| one Redis primary (one core runs every script) | {per_redis:,.0f} | {0.7 * per_redis:,.0f} |")
    print(f"\none Redis primary keeps up with about {per_redis / (pod_cpus * per_core):.1f} such pods "
          "(API traffic only; delivery workers add their own Redis work per message)")
