"""A Hypothesis state machine checks send limits, attempts, single use and lockout
against a plain dict model.

The machine drives the real service (Flask app, OtpService, RedisStore and its Lua
scripts) on fakeredis, with the test ``Clock`` injected into the service. Rules: send a
code to one of two phones, verify a code by id with its right or a wrong value, read a
code's status, and advance time; two steering rules (send as soon as the model allows,
attack a phone until it locks) reach the window's edge and repeat lockouts often.

Time. The scripts take ``now`` from the service, but the cooldown, the lock, the
failure counter, the lockout level and a code's digest and newest-code pointer are
Redis keys with TTLs, which fakeredis expires on its own clock. A model that moved only
``now`` would have to pretend those keys never expire (and could then never see a
cooldown end or a lock run out). So fakeredis's command loop reads the same ``Clock``
(``_ClockTime`` below): server time and application time agree, as they do in
production, and the model can be honest about every rule. ``TestFakeRedisFollowsTheClock``
fails loudly if a fakeredis upgrade moves its time source. The clock starts on a whole
second and moves in whole seconds, so every boundary is exact: a key with a TTL is gone
only once ``now`` is past its deadline (Redis's own rule), and ``PTTL > 0`` (what the
scripts test) holds only before it.

What the model covers, per phone: the resend cooldown (5 s), the send window (3 per
60 s, scored by ``now``), supersession of the previous code by a send, code expiry
(30 s), attempts counted before the comparison (3 per code), single use, the failure
count across codes (4 in a 120 s window, fixed from the first failure), lockout for
``min(10 s * 2**(level-1), 40 s)`` with the level remembered for ``lockout_max +
lockout_window``, a success clearing the count, and ``Retry-After`` of every refusal.
A send after the superseded code's lifetime ended may mark it canceled or leave it to
expire; the model accepts either and then holds the service to what it answered.
Not covered here (see test_rules.py): verify by phone, user_ref, client IP, countries,
concurrency.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from unittest import mock

import fakeredis
import pytest
import fakeredis._socket._base as fakeredis_loop
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from otpgw import create_app
from otpgw.config import load_settings
from otpgw.web.schemas import iso

from conftest import (
    API_KEY,
    AUTH,
    OTHER_PHONE,
    PHONE,
    SECRET,
    Clock,
    send,
    sent_code,
    verify,
)

pytestmark = pytest.mark.slow  # a Hypothesis state machine

PHONES = (PHONE, OTHER_PHONE)
COOLDOWN, WINDOW, WINDOW_MAX = 5_000, 60_000, 3
CODE_TTL, MAX_ATTEMPTS = 30_000, 3
THRESHOLD, FAIL_WINDOW, LOCK_BASE, LOCK_MAX = 4, 120_000, 10_000, 40_000
LEVEL_MEMORY = LOCK_MAX + FAIL_WINDOW
SETTINGS = dict(resend_cooldown=COOLDOWN // 1000, send_window=WINDOW // 1000, send_window_max=WINDOW_MAX,
                code_ttl=CODE_TTL // 1000, max_code_ttl=60, max_attempts=MAX_ATTEMPTS,
                lockout_threshold=THRESHOLD, lockout_window=FAIL_WINDOW // 1000,
                lockout_base=LOCK_BASE // 1000, lockout_max=LOCK_MAX // 1000)


class _ClockTime:
    """Stands in for the ``time`` module in fakeredis's command loop: ``time()`` is the test clock."""

    def __init__(self, clock: Clock):
        self._clock = clock

    def time(self) -> float:
        return self._clock()

    def __getattr__(self, name: str):
        return getattr(time, name)


def answer(reply) -> tuple[int, str]:
    """The status and the error code (or the reason, for a 200) of an answer."""
    body = reply.json
    return reply.status_code, body["error"]["code"] if "error" in body else body.get("reason", "")


def seconds(ms: int) -> int:
    """Retry-After as the API renders it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(ms / 1000))


@dataclass
class Expiring:
    """A Redis key with a TTL: present while now <= until (Redis removes it once past)."""

    value: int = 0
    until: int = -1

    def get(self, now: int) -> int:
        return self.value if now <= self.until else 0


@dataclass
class CodeModel:
    phone: str
    code: str
    expires_at: int
    status: str = "pending"
    attempts: int = 0
    maybe_canceled: bool = False  # superseded after its lifetime ended: canceled or expired


@dataclass
class PhoneModel:
    cooldown_until: int = 0
    sends: list[int] = field(default_factory=list)
    newest: str = ""  # the id of the phone's last code
    fails: Expiring = field(default_factory=Expiring)
    level: Expiring = field(default_factory=Expiring)
    lock_until: int = 0


class OtpMachine(RuleBasedStateMachine):
    """Sends and verifies against the real scripts, each answer checked against the model."""

    codes = Bundle("codes")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.clock.now = float(int(self.clock.now))
        self._time = mock.patch.object(fakeredis_loop, "time", _ClockTime(self.clock))
        self._time.start()
        app = create_app(
            load_settings(environ={}, secret_keys=(SECRET,), api_keys=(("app", API_KEY),), transport="fake",
                          **SETTINGS),
            redis_client=fakeredis.FakeRedis(server=fakeredis.FakeServer()), clock=self.clock)
        app.testing = True
        self.app, self.client = app, app.test_client()
        self.phones = {phone: PhoneModel() for phone in PHONES}
        self.by_id: dict[str, CodeModel] = {}

    def teardown(self) -> None:
        self._time.stop()

    @property
    def now(self) -> int:
        return int(self.clock.now * 1000)

    # -- rules ------------------------------------------------------------------------
    @initialize(target=codes)
    def first_codes(self):
        return multiple(*(self.send(phone) for phone in PHONES))

    @rule(target=codes, phone=st.sampled_from(PHONES))
    def send(self, phone):
        expected = self.expected_send(phone)
        reply = send(self.client, phone)
        if expected is not None:
            status, code, limit, retry_ms = expected
            assert answer(reply) == (status, code), reply.json
            assert reply.json["error"]["details"]["limit"] == limit
            assert reply.headers["Retry-After"] == str(seconds(retry_ms))
            event(f"send refused: {limit}")
            return multiple()
        assert reply.status_code == 202, reply.json
        assert reply.json["expires_at"] == iso(self.now + CODE_TTL)
        assert reply.json["resend_after"] == iso(self.now + COOLDOWN)
        code_id = reply.json["id"]
        self.issued(phone, code_id, sent_code(self.app, code_id))
        return code_id

    @rule(target=codes, phone=st.sampled_from(PHONES))
    def resend_when_allowed(self, phone):
        """Wait until the model says a send will pass, then send: the way to the window's edge."""
        self.wait_until_send_allowed(phone)
        return self.send(phone)

    @rule(target=codes, phone=st.sampled_from(PHONES))
    def attack_until_locked(self, phone):
        """Request codes and guess wrong until the phone locks: the way to repeat lockouts and the cap."""
        p, issued = self.phones[phone], []
        for _ in range(THRESHOLD):
            code_id = self.resend_when_allowed(phone)
            issued.append(code_id)
            for _ in range(MAX_ATTEMPTS):
                self.verify_wrong(code_id, 1)
                if self.now < p.lock_until:
                    return multiple(*issued)
        raise AssertionError("the model never locked the phone")  # the model itself is wrong

    @rule(code_id=codes)
    def verify_right(self, code_id):
        self.check_verify(code_id, self.by_id[code_id].code, right=True)

    @rule(code_id=codes, times=st.integers(1, 4))
    def verify_wrong(self, code_id, times):
        code = self.by_id[code_id].code
        for _ in range(times):
            self.check_verify(code_id, str((int(code) + 1) % 10**6).zfill(6), right=False)

    @rule(phone=st.sampled_from(PHONES), times=st.integers(1, 4))
    def verify_wrong_newest(self, phone, times):
        """Guess wrong at the phone's newest code, as an attacker would: the way to reach lockouts."""
        newest = self.phones[phone].newest
        if newest:
            self.verify_wrong(newest, times)

    @rule(code_id=codes)
    def status(self, code_id):
        """GET /otp/<id> shows the status and attempts the model holds."""
        model = self.by_id[code_id]
        reply = self.client.get(f"/otp/{code_id}", headers=AUTH)
        assert reply.status_code == 200
        shown = model.status
        if shown == "pending" and self.now >= model.expires_at:
            if model.maybe_canceled and reply.json["status"] == "canceled":
                model.status = shown = "canceled"  # from now on the service is held to its answer
            else:
                shown = "expired"
        assert reply.json["status"] == shown, (reply.json, model)
        assert reply.json["attempts"] == model.attempts

    @rule(step=st.one_of(st.sampled_from([1, 5, 10, 20, 30, 40]), st.integers(1, 130)))
    def advance_time(self, step):
        self.clock.advance(step)

    @invariant()
    def no_phone_has_more_sends_in_the_window_than_allowed(self):
        for model in self.phones.values():
            assert len([t for t in model.sends if t > self.now - WINDOW]) <= WINDOW_MAX

    # -- the model: sends -------------------------------------------------------------
    def wait_until_send_allowed(self, phone):
        p, now = self.phones[phone], self.now
        sends = [t for t in p.sends if t > now - WINDOW]
        window_frees = sends[len(sends) - WINDOW_MAX] + WINDOW if len(sends) >= WINDOW_MAX else now
        self.clock.advance(max(now, p.cooldown_until, p.lock_until, window_frees) / 1000 - now / 1000)

    def expected_send(self, phone):
        """None when the send must be accepted, else (status, error code, limit, retry ms)."""
        p, now = self.phones[phone], self.now
        if now < p.lock_until:
            return 423, "locked", "phone", p.lock_until - now
        if now < p.cooldown_until:
            return 429, "rate_limited", "resend_cooldown", p.cooldown_until - now
        p.sends = [t for t in p.sends if t > now - WINDOW]
        if len(p.sends) >= WINDOW_MAX:
            return 429, "rate_limited", "phone_send_window", p.sends[0] + WINDOW - now
        return None

    def issued(self, phone, code_id, code):
        p, now = self.phones[phone], self.now
        p.cooldown_until = now + COOLDOWN
        p.sends.append(now)
        previous = self.by_id.get(p.newest)
        if previous and previous.status == "pending":
            if now < previous.expires_at:
                previous.status = "canceled"
            else:
                previous.maybe_canceled = True
        p.newest = code_id
        self.by_id[code_id] = CodeModel(phone, code, now + CODE_TTL)

    # -- the model: verifies ----------------------------------------------------------
    def check_verify(self, code_id, code, *, right):
        model = self.by_id[code_id]
        p, now = self.phones[model.phone], self.now
        reply = verify(self.client, id=code_id, code=code)
        body = reply.json
        event("verify answered %s %s" % answer(reply))
        if now < p.lock_until:
            assert answer(reply) == (423, "locked"), body
            assert reply.headers["Retry-After"] == str(seconds(p.lock_until - now))
            assert body["error"]["details"]["attempts_left"] == MAX_ATTEMPTS - model.attempts
            return
        if model.status == "pending" and now >= model.expires_at:
            model.status = self.settle_expired(model, reply)
        if model.status != "pending":
            reason = "already_used" if model.status == "approved" else model.status
            assert answer(reply) == (410, reason), body
            return
        model.attempts += 1
        left = MAX_ATTEMPTS - model.attempts
        if right:
            assert body == {"valid": True, "id": code_id, "status": "approved", "reason": "approved"}
            model.status = "approved"
            p.fails = Expiring()
            return
        if left <= 0:
            model.status, left = "max_attempts", 0
        lock_ms = self.count_failure(p, now)
        if lock_ms:
            assert answer(reply) == (423, "locked"), body
            assert reply.headers["Retry-After"] == str(seconds(lock_ms))
            assert body["error"]["details"]["attempts_left"] == left
        else:
            assert body == {"valid": False, "id": code_id, "status": "pending" if left else "max_attempts",
                            "reason": "invalid", "attempts_left": left}

    @staticmethod
    def settle_expired(model, reply):
        """A pending code past its lifetime is expired, or canceled if a late send superseded it."""
        allowed = {"expired", "canceled"} if model.maybe_canceled else {"expired"}
        status, reason = answer(reply)
        assert status == 410 and reason in allowed, reply.json
        return reason

    @staticmethod
    def count_failure(p, now):
        """Failures per phone; the threshold locks for base * 2**(level-1), at most max."""
        fails = p.fails.get(now) + 1
        if fails == 1:
            p.fails = Expiring(1, now + FAIL_WINDOW)
        else:
            p.fails.value = fails
        if fails < THRESHOLD:
            return 0
        level = p.level.get(now) + 1
        p.level = Expiring(level, now + LEVEL_MEMORY)
        p.fails = Expiring()
        lock_ms = min(LOCK_BASE * 2 ** (level - 1), LOCK_MAX)
        event(f"lockout at level {min(level, 4)}{'+' if level >= 4 else ''}")
        p.lock_until = now + lock_ms
        return lock_ms


TestOtpMachine = OtpMachine.TestCase
TestOtpMachine.settings = settings(max_examples=80, stateful_step_count=50, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])


class TestFakeRedisFollowsTheClock:
    """The machine's fakeredis expires keys on the test clock, so its model can be honest."""

    def test_key_ttl_runs_on_the_test_clock(self):
        clock = Clock()
        clock.now = float(int(clock.now))
        with mock.patch.object(fakeredis_loop, "time", _ClockTime(clock)):
            client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
            client.set("k", "1", px=5000)
            clock.advance(4)
            assert client.pttl("k") == 1000
            clock.advance(1)
            assert client.exists("k") == 1 and client.pttl("k") == 0
            clock.advance(1)
            assert client.exists("k") == 0
