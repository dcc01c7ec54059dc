"""The four kinds of request a run measures, and the work each load process gets.

``healthz`` is the framework's ceiling (no Redis); ``send`` goes to a different valid
phone every time; ``verify`` sends a wrong, then the right code of each seeded code on
one connection; ``minimal`` is ``benchmarks/minimal_app.py``'s one EVALSHA. Both the load
generator and ``--profile`` build their requests from ``SCENARIOS``, so the two measure
the same requests.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.seed import BENCH_API_KEY, SEND_PHASE_START, issued_since, lane_mark, seed, us_phones


@dataclass(frozen=True)
class Scenario:
    title: str  # the row name in every table
    method: str
    path: str
    expected: frozenset[str]  # outcomes (see outcome_of) that are not flagged with a WARNING


SCENARIOS = {
    "healthz": Scenario("GET /healthz", "GET", "/healthz", frozenset({"200"})),
    "send": Scenario("POST /otp/send", "POST", "/otp/send", frozenset({"202"})),
    "verify": Scenario("POST /otp/verify", "POST", "/otp/verify", frozenset({"200 valid", "200 invalid"})),
    "minimal": Scenario("minimal EVALSHA app", "POST", "/evalsha", frozenset({"200"})),
}


def http_request(kind: str, body: Any = None) -> bytes:
    """The raw HTTP/1.1 request of ``kind`` with ``body`` as compact JSON."""
    scenario = SCENARIOS[kind]
    lines = [f"{scenario.method} {scenario.path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {BENCH_API_KEY}"]
    data = b""
    if body is not None:
        data = json.dumps(body, separators=(",", ":")).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


HEALTHZ = http_request("healthz")


def verify_bodies(code_id: str, code: str) -> list[dict[str, str]]:
    """A wrong code, then the right one: half the verifies fail, and the right one still
    finds its code live (one wrong attempt is far below ``max_attempts``)."""
    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
    return [{"id": code_id, "code": wrong}, {"id": code_id, "code": code}]


def outcome_of(kind: str, status: int, body: bytes) -> str:
    """The status, and for verify's 200 whether the code was valid."""
    if kind == "verify" and status == 200:
        return "200 valid" if b'"valid":true' in body else "200 invalid"
    return str(status)


def build_units(job: dict[str, Any]) -> list[list[bytes]]:
    """The requests of one load process as units: a unit's requests go in order on one
    connection (a verify unit is the wrong code, then the right one). Connections take
    the next unit from one shared list, so a fast connection cannot starve a slow one's
    share; after the last unit they start over (counted, and warned about for send and
    verify, whose units are single-use)."""
    kind = job["kind"]
    if kind == "healthz":
        return [[HEALTHZ]]
    if kind == "minimal":
        return [[http_request(kind, {"key": f"{job['first']}-{i}"})] for i in range(1024)]
    if kind == "send":
        return [[http_request(kind, {"phone": p})] for p in us_phones(job["phones"], job["phone_start"])]
    return [[http_request(kind, b) for b in verify_bodies(code_id, code)] for code_id, code in job["codes"]]


# -- jobs: one dict per load process, ``greenlets`` connections each ---------------------
def healthz_jobs(counts: list[int]) -> list[dict[str, Any]]:
    return [{"greenlets": n} for n in counts]


def send_jobs(args: argparse.Namespace, counts: list[int], round_: int = 0) -> list[dict[str, Any]]:
    """Enough distinct phones for ``--max-rate`` requests/s (then they repeat, with a warning);
    every round and process gets phones of its own."""
    phones = math.ceil(args.max_rate * (args.warmup + args.duration) / len(counts))
    first = [SEND_PHASE_START + (round_ * len(counts) + i) * phones * 2 for i in range(len(counts))]
    return [{"greenlets": n, "phones": phones, "phone_start": start}  # valid numbers are dense: twice the count
            for n, start in zip(counts, first)]  # never overlaps


class VerifyCodes:
    """Codes for the verify phases: the ones the send phase before it just issued (read from
    their sealed queued messages, as a delivery worker would), topped up through
    ``OtpService.send`` to two verifies per code at ``ceiling`` requests/s: the round's
    /healthz rate (no request that also goes to Redis beats it), or the minimal app's if
    other work on the machine made /healthz slower."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str]):
        from otpgw import create_app
        from otpgw.config import load_settings

        self.args = args
        self.app = create_app(load_settings(environ=env))
        self.seeded = 0  # seeded phones come from their own range (areas 0-4), never the send phase's

    def mark(self) -> str:
        return lane_mark(self.app)

    def since(self, mark: str, ceiling: float) -> list[tuple[str, str, str]]:
        started = time.monotonic()
        codes = issued_since(self.app, mark)
        issued = len(codes)
        wanted = self.args.codes or max(2000, math.ceil(ceiling * 1.2 * (self.args.warmup + self.args.duration) / 2))
        if issued < wanted:
            codes += seed(self.app, wanted - issued, us_phones(wanted - issued, self.seeded))
            self.seeded += 2 * (wanted - issued)  # dense valid numbers: twice the count never overlaps
        print(f"  {len(codes)} codes to verify: {issued} issued by the send phase, {len(codes) - issued} seeded "
              f"through OtpService.send ({time.monotonic() - started:.1f} s)", flush=True)
        return codes


def verify_jobs(codes: list[tuple[str, str, str]], counts: list[int]) -> list[dict[str, Any]]:
    """Each process verifies its own share of the codes (every len(counts)-th one)."""
    pairs = [(code_id, code) for code_id, _, code in codes]
    return [{"greenlets": n, "codes": pairs[i::len(counts)]} for i, n in enumerate(counts)]


def minimal_jobs(counts: list[int]) -> list[dict[str, Any]]:
    return [{"greenlets": n, "first": i} for i, n in enumerate(counts)]  # keys differ per process
