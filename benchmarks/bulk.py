"""Bulk messages: accepting a 100,000-recipient batch, delivering it through one and two
workers at a carrier's rate limit, and what that does to codes sent meanwhile.

Starts a private redis-server, a local carrier that answers like Twilio after ``--delay``
(benchmarks/fake_carrier.py, in a process of its own that reports each arrival), the API
under gunicorn (one gevent worker) and ``otpgw worker`` processes, all on this machine.
Then:

1. ``POST /messages`` with ``--recipients`` numbers: the time until the 202, and Redis'
   ``used_memory`` before and after, per queued message;
2. one worker delivers the batch for ``--window`` seconds (messages/s at the carrier),
   then a second one joins for another window, while codes are sent one at a time
   through ``/otp/send`` (time from the 202 to the carrier);
3. the same two workers restart as ``otpgw worker --lane bulk`` beside a third,
   ``otpgw worker --lane otp``, for codes only: codes again, for a window;
4. the rest of the batch is delivered (every message once), then codes again with the
   workers idle. The transport's rate (``--rate``) holds for all workers together: the
   busiest second at the carrier is printed beside it.

    .venv/bin/python benchmarks/bulk.py                       # 100,000 recipients, rate 600/s
    .venv/bin/python benchmarks/bulk.py --recipients 20000 --rate 0 --window 10
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fake_carrier import FakeCarrier  # noqa: E402
from benchmarks.seed import BENCH_API_KEY, BENCH_CLIENT, BENCH_OVERRIDES, us_phones  # noqa: E402
from benchmarks.servers import ROOT, SECRET, Gunicorn, RedisServer, free_port, stop_process  # noqa: E402

AUTH = {"Authorization": f"Bearer {BENCH_API_KEY}", "Content-Type": "application/json"}
TEXT = "Your parcel arrives tomorrow between 9 and 12. Reply STOP to opt out."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=100_000, help="numbers in the batch")
    p.add_argument("--rate", type=float, default=600, help="the transport's rate, messages/s (0: none)")
    p.add_argument("--delay", type=float, default=0.05, help="the carrier's reply time, seconds")
    p.add_argument("--concurrency", type=int, default=64, help="OTPGW_WORKER_CONCURRENCY of each worker")
    p.add_argument("--window", type=float, default=20, help="seconds measured with one, then two workers")
    p.add_argument("--codes", type=int, default=60, help="codes sent one by one, during the batch and idle")
    return p.parse_args(argv)


def settings_file(workdir: Path, carrier_url: str, rate: float) -> Path:
    path = workdir / "otpgw.toml"
    limit = f"rate = {rate}\nburst = {max(1, int(rate // 10))}\n" if rate else ""
    path.write_text(f'''public_url = "https://otp.example.com"
[transports.tw]
type = "twilio"
account_sid = "AC{'0' * 32}"
auth_token = "bench-auth-token"
from = "+15017122661"
base_url = "{carrier_url}"
max_connections = 256
{limit}
[clients.{BENCH_CLIENT}]
keys = ["{BENCH_API_KEY}"]
messages_allowed = true
''')
    return path


def environment(redis_url: str, config: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTPGW_", "PROMETHEUS_MULTIPROC_DIR"))}
    env.update({"OTPGW_SECRET_KEYS": SECRET, "OTPGW_REDIS_URL": redis_url, "OTPGW_CONFIG": str(config),
                "OTPGW_LOG_LEVEL": "WARNING", "OTPGW_WORKER_CONCURRENCY": str(args.concurrency),
                "OTPGW_WORKER_BLOCK_MS": "200", "OTPGW_MESSAGES_MAX_RECIPIENTS": str(args.recipients),
                "OTPGW_MESSAGES_MAX_BODY_BYTES": str(64 << 20), "OTPGW_MESSAGES_DAILY_RECIPIENTS": "0",
                "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    env.update({"OTPGW_" + k.upper(): str(v) for k, v in BENCH_OVERRIDES.items()})
    return env


def api_env(env: dict[str, str], port: int) -> dict[str, str]:
    return {**env, "OTPGW_BIND": f"127.0.0.1:{port}", "OTPGW_WORKERS": "1", "OTPGW_WORKER_CLASS": "gevent",
            "OTPGW_HEALTH_PORT": str(free_port()), "OTPGW_TIMEOUT": "120"}


def post(port: int, path: str, body: dict, connection: http.client.HTTPConnection | None = None) -> tuple[int, dict]:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, json.dumps(body).encode(), AUTH)
    reply = conn.getresponse()
    data = json.loads(reply.read())
    if connection is None:
        conn.close()
    return reply.status, data


def used_memory(redis: RedisServer) -> int:
    import redis as client

    with client.Redis(port=redis.port) as r:
        return int(r.info("memory")["used_memory"])


def accept(port: int, redis: RedisServer, phones: list[str]) -> dict[str, float]:
    before = used_memory(redis)
    started = time.perf_counter()
    status, answer = post(port, "/messages", {"to": phones, "text": TEXT})
    seconds = time.perf_counter() - started
    if status != 202:
        raise RuntimeError(f"POST /messages answered {status}: {str(answer)[:300]}")
    ids = [m["id"] for m in answer["messages"]]
    return {"seconds": seconds, "ids": ids, "bytes": (used_memory(redis) - before) / len(ids)}


def start_worker(env: dict[str, str], workdir: Path, n: int, *lanes: str) -> subprocess.Popen:
    log = open(workdir / f"worker-{n}.log", "w")  # noqa: SIM115 (closed with the process)
    command = [sys.executable, "-m", "otpgw.cli", "worker", *(f"--lane={lane}" for lane in lanes)]
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**env, "OTPGW_WORKER_HEALTH_PORT": str(free_port())})


class CarrierProcess:
    """``FakeCarrier`` in a process of its own, so the measuring process does not compete with
    its threads; every arrival (otpgw reference, time) comes back over a queue into ``arrivals``."""

    def __init__(self, delay: float):
        context = multiprocessing.get_context("spawn")
        self.queue, (ours, theirs) = context.Queue(), context.Pipe()
        self.proc = context.Process(target=_serve_carrier, args=(delay, self.queue, theirs), daemon=True)
        self.proc.start()
        self.url = ours.recv()
        self._arrivals: dict[str, float] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        while True:
            reference, at = self.queue.get()
            with self._lock:
                self._arrivals.setdefault(reference, at)

    def when(self, reference: str) -> float | None:
        with self._lock:
            return self._arrivals.get(reference)

    @property
    def arrivals(self) -> dict[str, float]:
        """A copy: otpgw reference -> when the carrier first received it."""
        with self._lock:
            return dict(self._arrivals)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


def _serve_carrier(delay: float, queue, pipe) -> None:
    class Reporting(FakeCarrier):
        def record(self, reference: str, arrived: float) -> None:
            queue.put((reference, arrived))

    with Reporting(delay) as carrier:
        pipe.send(carrier.url)
        threading.Event().wait()


def arrived(carrier: CarrierProcess, ids: set[str], since: float, until: float) -> int:
    return sum(1 for ref, at in carrier.arrivals.items() if since <= at < until and ref in ids)


def codes(port: int, carrier: CarrierProcess, count: int, start: int, spacing: float = 0.1) -> list[float]:
    """Send ``count`` codes one at a time; ms from each 202 to the carrier's receipt."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    gaps = []
    for phone in us_phones(count, start=start):
        status, answer = post(port, "/otp/send", {"phone": phone}, conn)
        answered = time.time()
        if status != 202:
            raise RuntimeError(f"/otp/send answered {status}: {answer}")
        deadline = time.monotonic() + 20
        while carrier.when(answer["id"]) is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        gaps.append((carrier.when(answer["id"]) - answered) * 1000)
        time.sleep(spacing)
    conn.close()
    return sorted(gaps)


def busiest_second(carrier: CarrierProcess) -> int:
    times = sorted(carrier.arrivals.values())
    best, lo = 0, 0
    for hi, at in enumerate(times):
        while times[lo] < at - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    phones = us_phones(args.recipients, start=7_000_000)
    with tempfile.TemporaryDirectory(prefix="otpgw-bulk-") as tmp:
        workdir = Path(tmp)
        redis = RedisServer(workdir).start()
        carrier = CarrierProcess(args.delay)
        procs: list[subprocess.Popen] = []
        try:
            figures = phases(args, workdir, redis, carrier, phones, procs)
        finally:
            for proc in procs:  # worker processes, and gunicorn (its master process)
                stop_process(getattr(proc, "proc", proc))
            carrier.close()
            redis.stop()
    report(args, figures)
    return 0


def phases(args: argparse.Namespace, workdir: Path, redis: RedisServer, carrier: CarrierProcess,
           phones: list[str], procs: list) -> dict:
    """Accept the batch, deliver it with one worker, then two (codes meanwhile), then idle codes."""
    env = environment(redis.url, settings_file(workdir, carrier.url, args.rate), args)
    port = free_port()
    api = Gunicorn("otpgw.wsgi:application", api_env(env, port), workdir / "api.log", 1)
    procs.append(api)
    api.start(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
    batch = accept(port, redis, phones)
    ids = set(batch["ids"])
    procs.append(start_worker(env, workdir, 1))
    time.sleep(3)  # start-up, then the steady state
    t0 = time.time()
    time.sleep(args.window)
    one = arrived(carrier, ids, t0, time.time()) / args.window
    procs.append(start_worker(env, workdir, 2))
    time.sleep(3)
    t1 = time.time()
    busy = codes(port, carrier, args.codes, start=8_000_000, spacing=args.window / args.codes)
    two = arrived(carrier, ids, t1, time.time()) / (time.time() - t1)
    for proc in procs[1:]:  # the workers (procs[0] is the API): bulk and codes in processes of their own
        stop_process(proc)
    procs[1:] = [start_worker(env, workdir, 3, "bulk"), start_worker(env, workdir, 4, "bulk"),
                 start_worker(env, workdir, 5, "otp")]
    time.sleep(3)
    t2 = time.time()
    split = codes(port, carrier, args.codes, start=8_500_000, spacing=args.window / args.codes)
    two_split = arrived(carrier, ids, t2, time.time()) / (time.time() - t2)
    deadline = time.monotonic() + 1800
    while len(ids & set(carrier.arrivals)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    delivered = len(ids & set(carrier.arrivals))
    idle = codes(port, carrier, args.codes, start=9_000_000, spacing=0.05)
    return {"accept_s": batch["seconds"], "bytes": batch["bytes"], "one": one, "two": two, "two_split": two_split,
            "delivered": delivered, "busy": busy, "split": split, "idle": idle, "peak": busiest_second(carrier)}


def report(args: argparse.Namespace, f: dict) -> None:
    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(len(values) * q))]

    rate = f"{args.rate:,.0f}/s" if args.rate else "none"
    print(f"{args.recipients:,} recipients, carrier reply {args.delay * 1000:.0f} ms, transport rate {rate}, "
          f"worker concurrency {args.concurrency}, {os.cpu_count()} CPUs shared by Redis, the API, the workers "
          f"and the carrier\n")
    print("| measure | figure |\n| --- | ---: |")
    print(f"| POST /messages accepted (202) | {f['accept_s']:.2f} s |")
    print(f"| Redis memory per queued message | {f['bytes']:.0f} bytes |")
    print(f"| delivery, 1 worker | {f['one']:,.0f} messages/s |")
    print(f"| delivery, 2 workers | {f['two']:,.0f} messages/s |")
    print(f"| delivery, 2 bulk workers beside a code worker | {f['two_split']:,.0f} messages/s |")
    print(f"| busiest second at the carrier | {f['peak']:,} messages (rate {rate}) |")
    print(f"| batch delivered | {f['delivered']:,} of {args.recipients:,}, each once |")
    for name, values in (("idle", f["idle"]), ("batch running on the same 2 workers", f["busy"]),
                         ("batch running, codes on a worker of their own", f["split"])):
        print(f"| code latency, {name} (202 -> carrier) | p50 {statistics.median(values):.0f} ms, "
              f"p95 {pct(values, 0.95):.0f} ms, max {values[-1]:.0f} ms |")


if __name__ == "__main__":
    sys.exit(main())
