"""Memory figures for sizing a deployment: each gunicorn worker, and Redis per code and message.

- ``worker_memory``: RSS and PSS of each worker of a running gunicorn, read from /proc after
  the load phases (warm: every module imported, every pool filled). PSS splits the pages
  the workers share with the master and with each other, so it is what a worker adds.
- ``redis_per_code``: a private redis-server, otpgw in this process with its production
  defaults (nothing moved out of the way), ``n`` codes sent to ``n`` different phones.
  ``INFO memory`` before, after, and after the otp lane is deleted, gives what one live code
  holds (its record, purge entry, digest, cooldown and send log: one phone each) and what
  one queued message holds (its sealed entry on the lane) apart.
"""
from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

from benchmarks.seed import BENCH_API_KEY, BENCH_CLIENT, us_phones
from benchmarks.servers import SECRET, RedisServer


def worker_memory(pids: list[int]) -> dict[str, float]:
    """Mean RSS and PSS in MiB over ``pids`` (0 when /proc has nothing)."""
    rss = [_proc_kib(pid, "status", "VmRSS:") for pid in pids]
    pss = [_proc_kib(pid, "smaps_rollup", "Pss:") for pid in pids]
    return {"rss_mib": sum(rss) / max(1, len(rss)) / 1024, "pss_mib": sum(pss) / max(1, len(pss)) / 1024}


def _proc_kib(pid: int, name: str, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def redis_per_code(n: int) -> dict[str, float]:
    """Bytes of Redis memory per live code and per queued message (see the module docstring)."""
    from otpgw import create_app
    from otpgw.config import load_settings
    from otpgw.otp.types import SendRequest

    workdir = Path(tempfile.mkdtemp(prefix="otpgw-memory-"))
    redis = None
    try:
        redis = RedisServer(workdir).start()
        env = {"OTPGW_SECRET_KEYS": SECRET, "OTPGW_API_KEYS": f"{BENCH_CLIENT}:{BENCH_API_KEY}",
               "OTPGW_REDIS_URL": redis.url}
        app = create_app(load_settings(environ=env))
        service, store = app.extensions["otpgw.service"], app.extensions["otpgw.store"]
        phones = us_phones(n + 1)
        service.send(SendRequest(phone=phones[-1]), BENCH_CLIENT)  # the lane and its group exist from here
        before = used_memory(redis.port)
        for phone in phones[:n]:
            service.send(SendRequest(phone=phone), BENCH_CLIENT)
        after = used_memory(redis.port)
        store.client.delete(store.keys.lane("otp"))
        without_lane = used_memory(redis.port)
        store.close()
        return {"codes": n, "per_code": (without_lane - before) / n, "per_message": (after - without_lane) / n,
                "total_mib": (after - before) / 2**20}
    finally:
        if redis:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def used_memory(port: int) -> int:
    """``used_memory`` of ``INFO memory``, in bytes."""
    return int(redis_info(port, "memory")["used_memory"])


def redis_info(port: int, section: str) -> dict[str, str]:
    """One ``INFO`` section of the Redis on ``port`` as a dict of strings."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"INFO {section}\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n")
        length = int(head[1:])  # a bulk string: $<length>\r\n<body>\r\n
        while len(body) < length:
            body += sock.recv(65536)
    return dict(line.split(":", 1) for line in body[:length].decode().splitlines() if ":" in line and line[0] != "#")
