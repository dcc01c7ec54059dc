"""Messages per minute through simulated modems, one modem and a pool of three.

A real modem answers ``+CMGS`` 2-4 s after the PDU (the network's round trip), and a
modem sends one SMS at a time, so that delay, not otpgw, sets the pace: one modem tops
out near ``60 / delay`` messages a minute and a pool scales with its size. This runs the
real transport (AT channel, PDU encoder, pool) against ``tests/support/modem_sim.py`` on
ptys with ``--delay`` seconds before each ``+CMGS``, from several sender threads as the
delivery worker would, and prints a table::

    .venv/bin/python benchmarks/modem_throughput.py                 # 1.5 s delay, 15 s per row
    .venv/bin/python benchmarks/modem_throughput.py --delay 3 --duration 30
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))  # run as a script: otpgw and the test support importable

from otpgw.domain.sms import Message  # noqa: E402
from otpgw.transports.base import TransportError  # noqa: E402
from otpgw.transports.gsm.settings import ModemSettings, Strategy  # noqa: E402
from otpgw.transports.gsm.transport import ModemTransport  # noqa: E402

from support.modem_sim import SimModem  # noqa: E402

OTP_TEXT = "Your example.com code is 123456. It expires in 5 minutes. Never share it."


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    parts: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def sender(transport: ModemTransport, until: float, tally: Tally, text: str) -> None:
    count = 0
    while time.monotonic() < until:
        count += 1
        message = Message("+4915112345678", text, f"bench-{threading.get_ident()}-{count}",
                          int(time.time() * 1000) + 300_000)
        started = time.monotonic()
        try:
            receipt = transport.send(message)
        except TransportError:
            with tally.lock:
                tally.errors += 1
            continue
        with tally.lock:
            tally.latencies.append(time.monotonic() - started)
            tally.finished.append(time.monotonic())
            tally.parts += receipt.parts


def run(modems: int, strategy: Strategy, args: argparse.Namespace, text: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="otpgw-modem-bench-") as directory:
        sims = [SimModem(directory, name=f"modem{n}", cmgs_delay=args.delay).start() for n in range(modems)]
        settings = ModemSettings(ports=tuple(s.path for s in sims), strategy=strategy, registration_poll=0.05,
                                 send_timeout=args.delay + 10, ready_wait=10)
        transport = ModemTransport("bench", settings)
        transport.start(lambda event: None)
        try:
            transport.send(Message("+4915112345678", "warm-up", "bench-0", int(time.time() * 1000) + 300_000))
            tally = Tally()
            until = time.monotonic() + args.duration
            threads = [threading.Thread(target=sender, args=(transport, until, tally, text))
                       for _ in range(args.senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            transport.close()
            for sim in sims:
                sim.stop()
    return summary(modems, strategy, tally, until, args, _parts(text))


def _parts(text: str) -> int:
    return Message("+1", text, "", 0).parts


def summary(modems: int, strategy: Strategy, tally: Tally, until: float, args: argparse.Namespace,
            parts: int) -> dict:
    """Throughput is the sends finished inside the window over the time to the last of
    them (the queue's tail after the window is left out, and so is the idle rest of the
    window after the last ``+CMGS``); latency counts every send, queueing included."""
    latencies = sorted(tally.latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    in_window = [moment for moment in tally.finished if moment <= until]
    span = max(in_window) - (until - args.duration) if in_window else float("nan")
    return {"modems": modems, "strategy": strategy.value, "messages": len(latencies), "parts": tally.parts,
            "per_min": 60 * len(in_window) / span, "ceiling": 60 * modems / (args.delay * parts),
            "p50": statistics.median(latencies) if latencies else float("nan"), "p95": p95, "errors": tally.errors}


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(f"\n+CMGS delay {args.delay:g} s, {args.senders} sender threads, {args.duration:g} s per row\n")
    print("| modems | strategy | text | messages sent | SMS parts | msg/min | ceiling msg/min | send p50 | send p95 "
          "| errors |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['modems']} | {row['strategy']} | {row['text']} | {row['messages']} | {row['parts']} | "
              f"{row['per_min']:.1f} | {row['ceiling']:.0f} | {row['p50']:.2f} s | {row['p95']:.2f} s | "
              f"{row['errors']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.5, help="seconds before each +CMGS (default 1.5)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of sending per row (default 15)")
    parser.add_argument("--senders", type=int, default=6, help="concurrent sender threads (default 6)")
    parser.add_argument("--multipart", action="store_true", help="also a row of two-part messages on the pool")
    args = parser.parse_args()
    scenarios = [(1, Strategy.ROUND_ROBIN, "otp"), (3, Strategy.ROUND_ROBIN, "otp"), (3, Strategy.LEAST_BUSY, "otp")]
    if args.multipart:
        scenarios.append((3, Strategy.ROUND_ROBIN, "2-part"))
    rows = []
    for modems, strategy, kind in scenarios:
        text = OTP_TEXT if kind == "otp" else OTP_TEXT * 3
        rows.append({**run(modems, strategy, args, text), "text": kind})
    print_table(rows, args)


if __name__ == "__main__":
    main()
