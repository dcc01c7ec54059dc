"""Privacy: after a realistic run, Redis and the logs hold no phone, code, user_ref or IP."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import pytest

from otpgw.delivery.worker import DeliveryWorker
from otpgw.logs import JsonFormatter
from otpgw.transports import PermanentTransportError, TemporaryTransportError
from otpgw.transports.fake import FakeTransport

from conftest import AUTH, OTHER_PHONE, PHONE, send, verify
from support.flows import issue, wrong

LOCKED_PHONE = "+14155552673"
GERMAN_PHONE = "+4915112345678"
PHONES = {  # E.164 -> the other spellings a leak could take
    PHONE: ["14155552671", "4155552671"],
    OTHER_PHONE: ["14155552672", "4155552672"],
    LOCKED_PHONE: ["14155552673", "4155552673"],
    GERMAN_PHONE: ["4915112345678", "15112345678", "015112345678"],
}
USER_REFS = ["alice@example.com", "bob-4711", "carol.lockout"]
CLIENT_IPS = ["203.0.113.7", "2001:db8::7", "198.51.100.23"]


@dataclass
class Run:
    """What a representative run left behind, and the secrets it must not have left."""

    redis: object
    codes: list[str] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)

    @property
    def plain_secrets(self) -> list[str]:
        return [s for e164, spellings in PHONES.items() for s in [e164, *spellings]] + USER_REFS + CLIENT_IPS

    def leaks(self, text: str) -> list[str]:
        """Every secret found in ``text``; a code counts only as a whole run of digits."""
        found = [s for s in self.plain_secrets if s.lower() in text.lower()]
        return found + [c for c in self.codes if re.search(rf"(?<!\d){c}(?!\d)", text)]


@pytest.fixture
def run(make_app, redis_client, clock, caplog) -> Run:
    """Sends, wrong and right verifies, a cancel, a lockout, and a worker whose carrier fails twice."""
    caplog.set_level(logging.DEBUG)
    app = make_app(clock=clock, lockout_threshold=3, worker_concurrency=1)  # failures meet messages in order
    client = app.test_client()
    result = Run(redis_client)

    alice_id, alice_code = issue(app, client, PHONE, user_ref=USER_REFS[0], client_ip=CLIENT_IPS[0])
    bob_id, bob_code = issue(app, client, OTHER_PHONE, user_ref=USER_REFS[1], client_ip=CLIENT_IPS[1])
    carol_id, carol_code = issue(app, client, LOCKED_PHONE, user_ref=USER_REFS[2])
    german_id, german_code = issue(app, client, GERMAN_PHONE, client_ip=CLIENT_IPS[2], locale="de")
    result.codes += [alice_code, bob_code, carol_code, german_code]

    assert send(client, PHONE, user_ref=USER_REFS[0], client_ip=CLIENT_IPS[0]).status_code == 429
    assert verify(client, id=alice_id, code=wrong(alice_code), user_ref=USER_REFS[0],
                  client_ip=CLIENT_IPS[0]).get_json()["valid"] is False
    assert verify(client, phone=PHONE, code=alice_code, user_ref=USER_REFS[0],
                  client_ip=CLIENT_IPS[0]).get_json()["valid"] is True
    assert client.post(f"/otp/{bob_id}/cancel", headers=AUTH).status_code == 200
    assert verify(client, id=bob_id, code=bob_code, user_ref=USER_REFS[1], client_ip=CLIENT_IPS[1]).status_code == 410
    replies = [verify(client, phone=LOCKED_PHONE, code=wrong(carol_code), user_ref=USER_REFS[2]).status_code
               for _ in range(3)]
    assert replies == [200, 200, 423]
    assert send(client, LOCKED_PHONE, user_ref=USER_REFS[2]).status_code == 423

    service = app.extensions["otpgw.service"]
    transport = FakeTransport()
    transport.fail_next(TemporaryTransportError("carrier timed out"),
                        PermanentTransportError("carrier rejected the message"))
    worker = DeliveryWorker(service.settings, app.extensions["otpgw.store"], transport, clock=clock)
    worker.run_once()
    clock.advance(5)  # past the first retry's back-off
    worker.run_once()
    result.codes += [c for m in transport.sent for c in re.findall(r"\d{6,10}", m.text)]

    statuses = {code_id: client.get(f"/otp/{code_id}", headers=AUTH).get_json()["delivery"]["status"]
                for code_id in (alice_id, bob_id, carol_id, german_id)}
    # alice approved and bob canceled before the worker ran: neither is handed to the carrier;
    # carol takes the passing failure then goes out, german takes the permanent one.
    assert statuses == {alice_id: "sent", bob_id: "failed", carol_id: "sent", german_id: "failed"}
    assert {m.reference for m in transport.sent} == {carol_id}
    result.records = list(caplog.records)
    return result


def dump(redis, key: bytes) -> str:
    """Every byte of one key's value, whatever its type, as text."""
    kind = redis.type(key).decode()
    if kind == "string":
        parts = [redis.get(key)]
    elif kind == "hash":
        parts = [item for pair in redis.hgetall(key).items() for item in pair]
    elif kind == "zset":
        parts = [item for member, score in redis.zrange(key, 0, -1, withscores=True) for item in (member, score)]
    elif kind == "stream":
        parts = [item for entry_id, fields in redis.xrange(key) for pair in fields.items()
                 for item in (entry_id, *pair)]
        parts += [str(group) for group in redis.xinfo_groups(key)]
    elif kind == "list":
        parts = redis.lrange(key, 0, -1)
    elif kind == "set":
        parts = list(redis.smembers(key))
    else:
        raise AssertionError(f"unexpected key type {kind} for {key!r}")
    return " ".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts)


class TestRedisHoldsNoIdentities:
    """No key name or value in Redis reveals a phone, a code, a user_ref or a client IP."""

    def test_scan_covers_every_kind_of_key_the_run_wrote(self, run):
        kinds = {run.redis.type(key).decode() for key in run.redis.scan_iter(count=1000)}
        assert {"string", "hash", "zset", "stream"} <= kinds

    def test_no_key_name_reveals_an_identity_or_code(self, run):
        leaks = {key.decode(): run.leaks(key.decode()) for key in run.redis.scan_iter(count=1000)}
        assert {k: v for k, v in leaks.items() if v} == {}

    def test_no_value_reveals_an_identity_or_code(self, run):
        leaks = {key.decode(): run.leaks(dump(run.redis, key)) for key in run.redis.scan_iter(count=1000)}
        assert {k: v for k, v in leaks.items() if v} == {}

    def test_every_key_expires(self, run):
        lasting = {key.decode(): run.redis.pttl(key) for key in run.redis.scan_iter(count=1000)}
        assert {k: ttl for k, ttl in lasting.items() if ttl <= 0} == {}

    def test_scan_would_see_a_planted_number(self, run):
        run.redis.set("planted", f"to={PHONE}", px=1000)
        assert run.leaks(dump(run.redis, b"planted")) == [PHONE, PHONE[1:], PHONE[2:]]


class TestLogsHoldNoSecrets:
    """Log records, raw and as JSON lines, name no code and no phone number in clear."""

    def test_run_was_logged_including_the_transport_failures(self, run):
        messages = " ".join(r.getMessage() for r in run.records)
        assert "otp.send" in messages and "otp.verify" in messages and "otp.lockout" in messages
        assert "carrier timed out" in messages and "carrier rejected the message" in messages

    def test_no_record_message_holds_a_code_or_phone(self, run):
        leaks = {r.getMessage(): run.leaks(r.getMessage()) for r in run.records}
        assert {m: v for m, v in leaks.items() if v} == {}

    def test_no_record_attribute_holds_a_code_or_phone(self, run):
        leaks = [(r.name, r.msg, run.leaks(repr(vars(r)))) for r in run.records]
        assert [leak for leak in leaks if leak[2]] == []

    def test_no_json_log_line_holds_a_code_or_phone(self, run):
        formatter = JsonFormatter()
        lines = [formatter.format(r) for r in run.records]
        assert [(line, run.leaks(line)) for line in lines if run.leaks(line)] == []

    def test_audit_lines_show_the_phone_masked(self, run):
        formatter = JsonFormatter()
        lines = [formatter.format(r) for r in run.records if r.getMessage() == "otp.send"]
        shown = {re.search(r'"phone": "([^"]*)"', line).group(1) for line in lines}
        assert shown == {"+141*****671", "+141*****672", "+141*****673", "+491*******678"}
