"""Delivery throughput: how many codes one worker process submits per second to a carrier.

Starts a private redis-server and a local carrier that answers like Twilio after 50 ms
(``--delay``), issues ``--messages`` codes through the real send path (``OtpService``,
the send script, the otp lane), then starts ``otpgw worker`` processes and times the
carrier receiving all of them. A second phase sends codes one by one to an idle worker
and measures the time from ``/otp/send``'s answer to the carrier's receipt.

    .venv/bin/python benchmarks/delivery.py                  # 1 and 2 workers, 5,000 messages
    .venv/bin/python benchmarks/delivery.py --workers 1 --messages 20000 --concurrency 64
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cputime import cpu_seconds  # noqa: E402
from benchmarks.fake_carrier import FakeCarrier  # noqa: E402
from benchmarks.seed import BENCH_OVERRIDES, us_phones  # noqa: E402
from benchmarks.servers import ROOT, SECRET, RedisServer, free_port, stop_process  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=5000, help="codes queued before the workers start")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes per run")
    p.add_argument("--concurrency", type=int, default=64, help="OTPGW_WORKER_CONCURRENCY of each worker")
    p.add_argument("--delay", type=float, default=0.05, help="the carrier's reply time, seconds")
    p.add_argument("--latency-samples", type=int, default=200, help="codes sent one by one for the latency phase")
    return p.parse_args(argv)


def settings_file(workdir: Path, carrier_url: str) -> Path:
    path = workdir / "otpgw.toml"
    path.write_text(f'''public_url = "https://otp.example.com"
[transports.tw]
type = "twilio"
account_sid = "AC{'0' * 32}"
auth_token = "bench-auth-token"
from = "+15017122661"
base_url = "{carrier_url}"
max_connections = 256
''')
    return path


def environment(redis_url: str, config: Path, concurrency: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
    env.update({"OTPGW_SECRET_KEYS": SECRET, "OTPGW_API_KEYS": "bench:bench-api-key-0123456789abcdef",
                "OTPGW_REDIS_URL": redis_url, "OTPGW_CONFIG": str(config), "OTPGW_LOG_LEVEL": "WARNING",
                "OTPGW_WORKER_CONCURRENCY": str(concurrency), "OTPGW_WORKER_BLOCK_MS": "200",
                "PYTHONPATH": str(ROOT)})
    env.update({"OTPGW_" + k.upper(): str(v) for k, v in BENCH_OVERRIDES.items()})
    return env


def queue_codes(env: dict[str, str], phones: list[str]) -> list[str]:
    """Issue one code per phone through the real service and its send script."""
    from otpgw import create_app
    from otpgw.config import load_settings
    from otpgw.otp.types import SendRequest

    app = create_app(load_settings(environ=env))
    service = app.extensions["otpgw.service"]
    try:
        return [service.send(SendRequest(phone=phone), "bench").code_id for phone in phones]
    finally:
        app.extensions["otpgw.store"].close()


def start_workers(count: int, env: dict[str, str], workdir: Path) -> list[subprocess.Popen]:
    procs = []
    for n in range(count):
        log = open(workdir / f"worker-{n}.log", "w")  # noqa: SIM115 (closed with the process)
        procs.append(subprocess.Popen([sys.executable, "-m", "otpgw.cli", "worker"],
                                      env={**env, "OTPGW_WORKER_HEALTH_PORT": str(free_port())},
                                      stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    return procs


def throughput(args: argparse.Namespace, workers: int, env: dict[str, str], carrier: FakeCarrier,
               workdir: Path, offset: int) -> dict[str, float]:
    ids = set(queue_codes(env, us_phones(args.messages, start=offset)))
    carrier.arrivals.clear()
    procs = start_workers(workers, env, workdir)
    cpu = 0.0
    try:
        time.sleep(1.0)  # imports and connections, before the clock starts
        before = sum(cpu_seconds(p.pid) for p in procs)
        deadline = time.monotonic() + 300
        while len(ids & carrier.arrivals.keys()) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = sum(cpu_seconds(p.pid) for p in procs) - before
    finally:
        for proc in procs:
            stop_process(proc)
    times = sorted(carrier.arrivals[i] for i in ids if i in carrier.arrivals)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    # the first second includes the workers' start-up; count from the first arrival
    return {"workers": workers, "delivered": len(times), "seconds": span, "per_second": len(times) / span,
            "per_worker": len(times) / span / workers, "cpu_us": cpu / max(1, len(times)) * 1e6}


def latency(args: argparse.Namespace, env: dict[str, str], carrier: FakeCarrier, workdir: Path,
            offset: int) -> dict[str, float]:
    from otpgw import create_app
    from otpgw.config import load_settings

    procs = start_workers(1, env, workdir)
    app = create_app(load_settings(environ=env))
    client = app.test_client()
    headers = {"Authorization": "Bearer bench-api-key-0123456789abcdef"}
    gaps = []
    try:
        time.sleep(2.0)  # the worker is up and blocking on its lane
        for phone in us_phones(args.latency_samples, start=offset):
            reply = client.post("/otp/send", json={"phone": phone}, headers=headers)
            answered = time.time()
            code_id = reply.get_json()["id"]
            deadline = time.monotonic() + 10
            while code_id not in carrier.arrivals and time.monotonic() < deadline:
                time.sleep(0.0005)
            gaps.append((carrier.arrivals[code_id] - answered) * 1000)
    finally:
        for proc in procs:
            stop_process(proc)
        app.extensions["otpgw.store"].close()
    gaps.sort()
    return {"p50": statistics.median(gaps), "p99": gaps[int(len(gaps) * 0.99) - 1], "max": gaps[-1]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otpgw-delivery-") as tmp:
        workdir = Path(tmp)
        redis = RedisServer(workdir).start()
        try:
            with FakeCarrier(args.delay) as carrier:
                env = environment(redis.url, settings_file(workdir, carrier.url), args.concurrency)
                rows = [throughput(args, n, env, carrier, workdir, offset=i * args.messages)
                        for i, n in enumerate(args.workers)]
                lat = latency(args, env, carrier, workdir, offset=len(args.workers) * args.messages)
        finally:
            redis.stop()
    print(f"carrier reply time {args.delay * 1000:.0f} ms, {args.messages} messages per run, "
          f"worker concurrency {args.concurrency}, {os.cpu_count()} CPUs (carrier and Redis on the same machine)\n")
    print("| worker processes | messages/s | messages/s per worker | worker CPU per message | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['workers']} | {row['per_second']:,.0f} | {row['per_worker']:,.0f} | "
              f"{row['cpu_us']:,.0f} µs | {row['seconds']:.1f} |")
    print(f"\nadded latency, /otp/send answered -> carrier received (idle worker, {args.latency_samples} codes): "
          f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
