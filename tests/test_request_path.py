"""The request path's shortcuts (issue 10) change nothing a caller or an operator sees.

The send and verify schemas load the common body without marshmallow's machinery and
dump flat results directly; the code store runs its two scripts on connections of its
own. Each shortcut is held to what the full path answers, errors included.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

import fakeredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from otpgw.domain.outcomes import CodeStatus, VerifyOutcome
from otpgw.domain.phones import parse_phone
from otpgw.logs import JsonFormatter, LineHandler
from otpgw.otp.types import CancelResult, SendResult, VerifyResult
from otpgw.store.direct import DirectScripts
from otpgw.web import schemas
from otpgw.web.otp import answer

from conftest import PHONE, send, sent_code, verify

SEND_IN, VERIFY_IN = schemas.SendRequestSchema(), schemas.VerifyRequestSchema()
FIELDS = ["phone", "user_ref", "client_ip", "locale", "code_length", "ttl", "webotp_domain", "app_hash", "id", "code",
          "extra"]
VALUES = st.one_of(
    st.sampled_from(["+14155552671", "0415 555 2671", "12", "x" * 40, "", "123456", "12345", "1234567890123",
                     "abcdefghijklmnopqrstuvwxyz234567", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "en-US", "e",
                     "example.com", "-bad-.com", "AbCdEfGhIjK", "AbCdEfGhIj", "203.0.113.7", "::1", "not an ip",
                     "123456\n", "u-42"]),
    st.text(max_size=12), st.integers(-2, 700), st.booleans(), st.none(), st.lists(st.text(max_size=3), max_size=2))


def full_load(schema: Schema, body):
    """marshmallow's own load, as the schema would run without the shortcut."""
    return outcome(lambda: Schema.load(schema, body))


def outcome(call):
    try:
        return "ok", call()
    except ValidationError as exc:
        return "error", exc.messages


class TestSchemaShortcuts:
    """The shortcut load and dump give exactly what marshmallow's own load and dump give."""

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5))
    def test_send_and_verify_bodies_load_as_marshmallow_loads_them(self, body):
        for schema in (SEND_IN, VERIFY_IN):
            assert outcome(lambda: schema.load(body)) == full_load(schema, body), body

    @pytest.mark.parametrize("body", [
        {"phone": PHONE}, {"phone": PHONE, "user_ref": "u-42", "client_ip": "203.0.113.7", "locale": "en-US"},
        {"phone": PHONE, "webotp_domain": "example.com"}, {"phone": PHONE, "app_hash": "AbCdEfGhIjK"},
        {"id": "abcdefghijklmnopqrstuvwxyz234567", "code": "123456"}, {"phone": PHONE, "code": "1234567890"},
        {"id": "abcdefghijklmnopqrstuvwxyz234567", "phone": PHONE, "code": "123456", "client_ip": "2001:db8::1"},
    ])
    def test_common_bodies_take_the_shortcut_and_load_the_same(self, body):
        schema = VERIFY_IN if "code" in body else SEND_IN
        assert schema._load_strings(body) is not None  # the shortcut took it
        assert outcome(lambda: schema.load(body)) == full_load(schema, body)

    @pytest.mark.parametrize("body", [
        {"phone": PHONE, "webotp_domain": "example.com", "app_hash": "AbCdEfGhIjK"}, {"phone": PHONE, "ttl": 60},
        {"code": "123456"}, {"id": "A" * 32, "code": "123456"}, {"phone": PHONE, "client_ip": "300.1.1.1"},
        {"phone": PHONE, "user_ref": ""}, {"phone": None}, {"phone": PHONE, "unknown": "x"},
    ])
    def test_other_bodies_take_the_full_path_with_its_errors(self, body):
        schema = VERIFY_IN if "code" in body or "id" in body else SEND_IN
        assert schema._load_strings(body) is None
        assert outcome(lambda: schema.load(body)) == full_load(schema, body)

    def test_a_body_that_is_not_an_object_is_refused_as_before(self):
        for body in ([], "phone", None, 3):
            assert outcome(lambda: SEND_IN.load(body)) == full_load(SEND_IN, body)

    @pytest.mark.parametrize("result", [
        SendResult("a" * 32, CodeStatus.PENDING, 1_700_000_000_123, 1_700_000_030_000, parse_phone(PHONE)),
        VerifyResult(True, "b" * 32, CodeStatus.APPROVED, VerifyOutcome.APPROVED),
        VerifyResult(False, "c" * 32, CodeStatus.PENDING, VerifyOutcome.INVALID, 4),
        VerifyResult(False, "c" * 32, CodeStatus.MAX_ATTEMPTS, VerifyOutcome.INVALID, 0),
        CancelResult("d" * 32, CodeStatus.CANCELED),
    ])
    def test_results_dump_as_marshmallow_dumps_them(self, result):
        schema = {SendResult: schemas.SendResponseSchema, VerifyResult: schemas.VerifyResponseSchema,
                  CancelResult: schemas.CancelResponseSchema}[type(result)]()
        assert schema.dump(result) == Schema.dump(schema, result)


class TestDirectScripts:
    """Send and verify run on the store's own connections, and recover as redis-py would."""

    def test_plain_clients_get_the_direct_path_and_others_keep_redis_py(self, redis_server):
        plain = redis.Redis.from_url(redis_server.url)
        assert isinstance(DirectScripts.for_client(plain), DirectScripts)
        assert DirectScripts.for_client(redis.Redis.from_url(redis_server.url, single_connection_client=True)) is None
        assert DirectScripts.for_client(fakeredis.FakeRedis()) is None

    def test_a_code_is_sent_and_verified(self, client, app):
        assert app.extensions["otpgw.store"].codes._direct is not None  # precondition: the direct path is on
        code_id = send(client).get_json()["id"]
        reply = verify(client, id=code_id, code=sent_code(app, code_id))
        assert reply.status_code == 200 and reply.get_json()["valid"] is True

    def test_connections_the_server_closed_are_replaced_before_use(self, client, app, redis_client):
        send(client)
        killed = redis_client.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        reply = send(client, phone="+14155552672")
        assert reply.status_code == 202, reply.get_json()

    def test_a_flushed_script_cache_is_reloaded(self, client, app, redis_client):
        send(client)
        redis_client.script_flush()
        code_id = send(client, phone="+14155552672").get_json()["id"]
        reply = verify(client, id=code_id, code=sent_code(app, code_id))
        assert reply.status_code == 200 and reply.get_json()["valid"] is True

    def test_a_script_error_is_a_store_error_and_the_next_call_works(self, app, client):
        store = app.extensions["otpgw.store"]
        codes = store.codes
        with pytest.raises(redis.exceptions.ResponseError):
            codes._direct(store.scripts.verify_code, keys={name: "k" for name in store.scripts.verify_code.header.keys},
                          args={name: "not-a-number" for name in store.scripts.verify_code.header.args})
        assert send(client).status_code == 202


class TestResponses:
    """Bodies and times are written as Flask's JSON provider and datetime wrote them."""

    @settings(max_examples=300)
    @given(st.integers(0, 4_102_444_800_000))  # 1970 to 2100, in ms
    def test_timestamps_read_as_before(self, ms):
        moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
        assert schemas.iso(ms) == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @pytest.mark.parametrize("body, status, headers", [
        ({"valid": False, "id": "c" * 32, "status": "pending", "reason": "invalid", "attempts_left": 4}, 200, None),
        ({"id": "a" * 32, "status": "pending", "expires_at": "2026-01-31T09:30:00.123Z"}, 202,
         {"Idempotent-Replayed": "true"}),
    ])
    def test_answers_are_byte_for_byte_what_flask_makes(self, app, body, status, headers):
        with app.test_request_context():
            ours = answer(body, status, headers)
            flasks = app.make_response((body, status, headers or {}))
        assert ours.get_data() == flasks.get_data() and ours.status == flasks.status
        assert list(ours.headers.items()) == list(flasks.headers.items())


class RecordingStream:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


class TestHeldLines:
    """A request's log lines leave in one write when it ends; other lines leave at once."""

    @pytest.fixture
    def stream(self):
        handler = LineHandler(RecordingStream())
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        yield handler.stream
        root.removeHandler(handler)
        root.setLevel(level)

    def test_the_audit_and_access_lines_of_a_request_go_out_together(self, client, stream):
        assert send(client).status_code == 202
        (written,) = [w for w in stream.writes if "otp.send" in w]
        lines = [json.loads(line) for line in written.splitlines()]
        assert [line["logger"] for line in lines] == ["otpgw.audit", "otpgw.access"]
        assert lines[1]["status"] == 202 and PHONE not in written

    def test_a_request_that_fails_still_writes_its_lines(self, client, stream):
        assert verify(client, code="123456").status_code == 400
        assert any('"status": 400' in w for w in stream.writes)

    def test_lines_outside_a_request_are_written_at_once(self, stream):
        logging.getLogger("otpgw.test").info("outside")
        assert len(stream.writes) == 1 and '"msg": "outside"' in stream.writes[0]
