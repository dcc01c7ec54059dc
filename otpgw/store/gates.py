"""TransportGates: each transport's pause, circuit breaker and rate, shared by every worker.

A carrier that asks us to slow down is paused for everyone, not just for the worker that
heard it; a failing carrier is taken out of rotation for all and probed back by one; the
configured rate is one token bucket in Redis, so N workers together never exceed it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.tables import Capacity
from .codes import text
from .errors import guard
from .keys import NONE, KeySpace
from .scripts import Scripts

GATE_TTL_MS = 86400 * 1000
PROBE_MS = 30_000  # a half-open probe that never reports back frees the gate after this


def _burst(capacity: Capacity) -> int:
    return capacity.burst or max(1, int(capacity.rate))


def otp_reserve(capacity: Capacity) -> int:
    """Tokens of a rate-limited transport that bulk messages leave for codes: a fifth of
    the bucket, at least one, and never the whole bucket (bulk could never send)."""
    burst = _burst(capacity)
    return min(max(1, burst // 5), burst - 1)


@dataclass(frozen=True)
class Verdict:
    code_status: str  # the code's status, or 'gone' (a message's: see begin_attempt.lua)
    verdict: str  # go | skip | paused | open | busy
    wait_ms: int
    dirty: bool  # the gate remembers failures: report a success to clear them


@dataclass(frozen=True)
class GateState:
    state: str  # closed | open | half_open | paused
    failures: int
    retry_in_ms: int


class TransportGates:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts):
        self.client = client
        self.keys = keys
        self.scripts = scripts

    def _key(self, transport: str) -> str:
        return self.keys.key(f"t{transport}", "gate")

    @guard
    def begin(self, transport: str, capacity: Capacity, phone_tag: str, code_id: str, now_ms: int) -> Verdict:
        keys = dict(codes=self.keys.codes(phone_tag), gate=self._key(transport),
                    batch=self.keys.key(NONE, "batch"), opt_out=self.keys.phone(phone_tag, "optout"))
        return self._begin(keys, code_id, "code", capacity, 0, now_ms)

    @guard
    def begin_message(self, transport: str, capacity: Capacity, batch_id: str, index: int, phone_tag: str,
                      now_ms: int, *, turn: int = 0) -> Verdict:
        """The same for a message of a batch: it leaves ``otp_reserve`` tokens to codes, and
        waits for its ``turn`` (given by an earlier busy verdict) when tokens are scarce."""
        keys = dict(codes=self.keys.batch(batch_id, "records"), gate=self._key(transport),
                    batch=self.keys.batch(batch_id, "meta"), opt_out=self.keys.phone(phone_tag, "optout"))
        return self._begin(keys, str(index), "message", capacity, otp_reserve(capacity), now_ms, turn)

    def _begin(self, keys: dict[str, str], ref: str, kind: str, capacity: Capacity, reserve: int,
               now_ms: int, turn: int = 0) -> Verdict:
        args = dict(id=ref, kind=kind, now=now_ms, rate=capacity.rate, burst=_burst(capacity), reserve=reserve,
                    turn=turn, probe_ms=PROBE_MS, gate_ttl=GATE_TTL_MS)
        status, verdict, wait, dirty = self.scripts.begin_attempt(keys=keys, args=args)
        return Verdict(text(status), text(verdict), int(wait), bool(int(dirty)))

    @guard
    def outcome(self, transport: str, capacity: Capacity, outcome: str, now_ms: int, pause_ms: int = 0) -> str:
        args = dict(outcome=outcome, now=now_ms, threshold=capacity.breaker_failures,
                    cooldown=int(capacity.breaker_cooldown * 1000), cooldown_max=int(capacity.breaker_cooldown * 10000),
                    pause=pause_ms or int(capacity.throttle_pause * 1000), gate_ttl=GATE_TTL_MS)
        return text(self.scripts.gate_outcome(keys=dict(gate=self._key(transport)), args=args))

    @guard
    def state(self, transport: str, now_ms: int) -> GateState:
        raw = {text(k): text(v) for k, v in self.client.hgetall(self._key(transport)).items()}
        paused, opened = int(raw.get("paused_until", 0)), int(float(raw.get("opened_until", 0)))
        fails = int(raw.get("fails", 0))
        if paused > now_ms:
            return GateState("paused", fails, paused - now_ms)
        if opened > now_ms:
            return GateState("open", fails, opened - now_ms)
        return GateState("half_open" if opened else "closed", fails, 0)
