"""CPU seconds read from /proc, so a phase can charge its CPU to each party.

On a small machine the load generator competes with the server for the CPUs, so
requests/s moves with everything else that runs; CPU per request mostly does not.
``snapshot`` is taken at the start and the end of a measured window; ``spent`` turns the
two into seconds for the gunicorn workers, the master, Redis, the load generator and
"others" (busy CPU time of the whole machine that none of ours used).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def snapshot(server: Any, redis: Any) -> dict[str, float]:
    """CPU seconds so far of ``server`` (a Gunicorn: workers, master), ``redis`` (a
    RedisServer) and of the whole machine (``busy``)."""
    return {"workers": sum(cpu_seconds(pid) for pid in server.worker_pids()),
            "master": cpu_seconds(server.proc.pid), "redis": cpu_seconds(redis.proc.pid),
            "busy": machine_busy_seconds()}


def spent(before: dict[str, float], after: dict[str, float], loadgen: float) -> dict[str, float]:
    """CPU seconds between two snapshots by party; ``loadgen`` is what the load processes
    measured for themselves."""
    cpu = {name: after[name] - before[name] for name in ("workers", "master", "redis")}
    cpu["loadgen"] = loadgen
    cpu["others"] = (after["busy"] - before["busy"]) - sum(cpu.values())
    return cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid``; 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (user, nice, system, irq, softirq)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(values) - values[3] - values[4]) / TICK
