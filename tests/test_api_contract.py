"""The v1 HTTP contract of DESIGN.md, row by row, as a calling backend sees it."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from otpgw import create_app
from otpgw.delivery.worker import DeliveryWorker
from otpgw.transports.fake import FakeTransport

from conftest import (
    API_KEY,
    AUTH,
    OTHER_AUTH,
    OTHER_PHONE,
    PHONE,
    operator,
    send,
    verify,
)
from support.flows import issue, wrong

UNKNOWN_ID = "a" * 32  # well-formed, never issued
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def assert_envelope(reply, status: int, code: str) -> dict:
    """The reply is exactly the one error envelope, with this status and code."""
    assert reply.status_code == status, reply.get_data(as_text=True)
    assert reply.mimetype == "application/json"
    body = reply.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def timestamp(value: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp, insisting on the format and on a UTC offset."""
    assert RFC3339.match(value), value
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    return parsed


def moment(clock) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(clock.now * 1000) / 1000, tz=dt.timezone.utc)


def seconds_between(later: str, start: dt.datetime) -> float:
    return (timestamp(later) - start).total_seconds()


def deliver(app) -> FakeTransport:
    transport = FakeTransport()
    worker = DeliveryWorker(app.extensions["otpgw.settings"], app.extensions["otpgw.store"], transport)
    worker.run_once()
    return transport


class TestSend:
    """POST /otp/send answers 202 with the new code's id, status and RFC 3339 times."""

    def test_send_answers_202_with_exactly_the_documented_fields(self, make_app, clock):
        client = make_app(clock=clock).test_client()
        reply = send(client)
        assert reply.status_code == 202
        body = reply.get_json()
        assert set(body) == {"id", "status", "expires_at", "resend_after"}
        assert body["status"] == "pending"
        assert re.fullmatch(r"[a-z2-7]{32}", body["id"])

    def test_expiry_and_resend_times_follow_the_default_ttl_and_cooldown(self, make_app, clock):
        client = make_app(clock=clock).test_client()
        body = send(client).get_json()
        assert seconds_between(body["expires_at"], moment(clock)) == pytest.approx(300, abs=0.002)
        assert seconds_between(body["resend_after"], moment(clock)) == pytest.approx(30, abs=0.002)

    def test_requested_ttl_sets_the_expiry(self, make_app, clock):
        client = make_app(clock=clock).test_client()
        body = send(client, ttl=120).get_json()
        assert seconds_between(body["expires_at"], moment(clock)) == pytest.approx(120, abs=0.002)

    def test_requested_code_length_is_the_length_sent(self, app, client):
        code_id, code = issue(app, client, code_length=8)
        assert len(code) == 8

    def test_two_phones_get_distinct_ids(self, client):
        assert send(client).get_json()["id"] != send(client, OTHER_PHONE).get_json()["id"]

    def test_resend_within_cooldown_is_429_with_retry_after(self, client):
        send(client)
        reply = send(client)
        error = assert_envelope(reply, 429, "rate_limited")
        assert error["details"]["limit"] == "resend_cooldown"
        assert 1 <= int(reply.headers["Retry-After"]) <= 30
        assert error["details"]["retry_after"] == int(reply.headers["Retry-After"])

    def test_send_to_locked_phone_is_423_with_retry_after(self, make_app):
        app = make_app(lockout_threshold=1, resend_cooldown=0)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert verify(client, id=code_id, code=wrong(code)).status_code == 423
        reply = send(client)
        assert_envelope(reply, 423, "locked")
        assert int(reply.headers["Retry-After"]) > 0

    def test_country_outside_allow_list_is_403(self, make_app):
        client = make_app(allowed_countries=("GB",)).test_client()
        error = assert_envelope(send(client), 403, "country_not_allowed")
        assert error["details"] == {"country": "US"}

    def test_opted_out_phone_is_403(self, app, client):
        operator(app).run("opt-out", phone=PHONE, user_ref=None, client=None)
        assert_envelope(send(client), 403, "opted_out")

    def test_national_number_is_accepted_with_a_default_region(self, make_app):
        client = make_app(default_region="US").test_client()
        assert send(client, "(415) 555-2671").status_code == 202


class TestVerify:
    """POST /otp/verify names the exact outcome: approved, invalid, or why not."""

    def test_right_code_by_id_is_valid(self, app, client):
        code_id, code = issue(app, client)
        reply = verify(client, id=code_id, code=code)
        assert reply.status_code == 200
        assert reply.get_json() == {"valid": True, "id": code_id, "status": "approved", "reason": "approved"}

    def test_right_code_by_phone_is_valid(self, app, client):
        code_id, code = issue(app, client)
        reply = verify(client, phone=PHONE, code=code)
        assert reply.status_code == 200
        assert reply.get_json() == {"valid": True, "id": code_id, "status": "approved", "reason": "approved"}

    def test_right_code_by_phone_in_national_format_with_default_region_is_valid(self, make_app):
        app = make_app(default_region="US")
        client = app.test_client()
        code_id, code = issue(app, client)
        assert verify(client, phone="415-555-2671", code=code).get_json()["valid"] is True

    def test_wrong_code_is_200_invalid_with_attempts_left(self, app, client):
        code_id, code = issue(app, client)
        reply = verify(client, id=code_id, code=wrong(code))
        assert reply.status_code == 200
        assert reply.get_json() == {"valid": False, "id": code_id, "status": "pending", "reason": "invalid",
                                    "attempts_left": 4}

    def test_wrong_code_by_phone_is_200_invalid(self, app, client):
        code_id, code = issue(app, client)
        body = verify(client, phone=PHONE, code=wrong(code)).get_json()
        assert body == {"valid": False, "id": code_id, "status": "pending", "reason": "invalid", "attempts_left": 4}

    def test_unknown_id_is_404_not_found(self, client):
        error = assert_envelope(verify(client, id=UNKNOWN_ID, code="123456"), 404, "not_found")
        assert error["details"]["reason"] == "not_found"

    def test_phone_without_a_code_is_404_not_found(self, client):
        assert_envelope(verify(client, phone=PHONE, code="123456"), 404, "not_found")

    def test_code_of_another_client_is_404_not_found(self, app, client):
        code_id, code = issue(app, client)
        assert_envelope(verify(client, headers=OTHER_AUTH, id=code_id, code=code), 404, "not_found")
        assert verify(client, id=code_id, code=code).get_json()["valid"] is True

    def test_id_given_with_another_phone_is_404_not_found(self, app, client):
        code_id, code = issue(app, client)
        assert_envelope(verify(client, id=code_id, phone=OTHER_PHONE, code=code), 404, "not_found")

    def test_used_code_is_410_already_used(self, app, client):
        code_id, code = issue(app, client)
        verify(client, id=code_id, code=code)
        error = assert_envelope(verify(client, id=code_id, code=code), 410, "already_used")
        assert error["details"] == {"reason": "already_used", "id": code_id}

    def test_expired_code_is_410_expired(self, make_app, clock):
        app = make_app(clock=clock)
        client = app.test_client()
        code_id, code = issue(app, client)
        clock.advance(301)
        error = assert_envelope(verify(client, id=code_id, code=code), 410, "expired")
        assert error["details"] == {"reason": "expired", "id": code_id}

    def test_code_after_max_attempts_is_410_max_attempts(self, app, client):
        code_id, code = issue(app, client)
        replies = [verify(client, id=code_id, code=wrong(code)).get_json() for _ in range(5)]
        assert [r["attempts_left"] for r in replies] == [4, 3, 2, 1, 0]
        assert replies[-1]["status"] == "max_attempts" and replies[-1]["valid"] is False
        error = assert_envelope(verify(client, id=code_id, code=code), 410, "max_attempts")
        assert error["details"]["reason"] == "max_attempts"

    def test_canceled_code_is_410_canceled(self, app, client):
        code_id, code = issue(app, client)
        assert client.post(f"/otp/{code_id}/cancel", headers=AUTH).status_code == 200
        error = assert_envelope(verify(client, id=code_id, code=code), 410, "canceled")
        assert error["details"]["reason"] == "canceled"

    def test_lockout_is_423_with_retry_after(self, make_app):
        app = make_app(lockout_threshold=2)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert verify(client, id=code_id, code=wrong(code)).status_code == 200
        reply = verify(client, id=code_id, code=wrong(code))
        error = assert_envelope(reply, 423, "locked")
        assert reply.headers["Retry-After"] == "3600"
        assert error["details"]["retry_after"] == 3600 and error["details"]["limit"] == "phone"
        again = verify(client, id=code_id, code=code)
        assert_envelope(again, 423, "locked")
        assert int(again.headers["Retry-After"]) > 0

    def test_too_many_verifies_from_one_ip_is_429_with_retry_after(self, make_app):
        app = make_app(ip_verify_max=1)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert verify(client, id=code_id, code=wrong(code), client_ip="198.51.100.4").status_code == 200
        reply = verify(client, id=code_id, code=code, client_ip="198.51.100.4")
        error = assert_envelope(reply, 429, "rate_limited")
        assert error["details"]["limit"] == "client_ip_verify"
        assert int(reply.headers["Retry-After"]) > 0


class TestStatus:
    """GET /otp/<id> shows the code's status, times and delivery."""

    def test_status_has_exactly_the_documented_fields(self, make_app, clock):
        app = make_app(clock=clock)
        client = app.test_client()
        code_id, _ = issue(app, client)
        reply = client.get(f"/otp/{code_id}", headers=AUTH)
        assert reply.status_code == 200
        body = reply.get_json()
        assert set(body) == {"id", "status", "attempts", "created_at", "expires_at", "delivery"}
        assert (body["id"], body["status"], body["attempts"]) == (code_id, "pending", 0)
        assert timestamp(body["created_at"]) == moment(clock)
        assert seconds_between(body["expires_at"], moment(clock)) == pytest.approx(300, abs=0.002)
        assert set(body["delivery"]) == {"status", "transport", "updated_at"}
        assert body["delivery"]["status"] == "queued" and body["delivery"]["transport"] == "fake"
        timestamp(body["delivery"]["updated_at"])

    def test_status_counts_attempts_and_shows_approval(self, app, client):
        code_id, code = issue(app, client)
        verify(client, id=code_id, code=wrong(code))
        verify(client, id=code_id, code=code)
        body = client.get(f"/otp/{code_id}", headers=AUTH).get_json()
        assert (body["status"], body["attempts"]) == ("approved", 2)

    def test_status_shows_expiry_without_a_verify(self, make_app, clock):
        app = make_app(clock=clock)
        client = app.test_client()
        code_id, _ = issue(app, client)
        clock.advance(301)
        assert client.get(f"/otp/{code_id}", headers=AUTH).get_json()["status"] == "expired"

    def test_delivery_shows_sent_after_the_worker_ran(self, app, client):
        code_id, _ = issue(app, client)
        transport = deliver(app)
        assert [m.reference for m in transport.sent] == [code_id]
        delivery = client.get(f"/otp/{code_id}", headers=AUTH).get_json()["delivery"]
        assert {"status", "transport", "updated_at"} <= set(delivery)
        assert (delivery["status"], delivery["transport"]) == ("sent", "fake")
        assert delivery["carrier_ids"] == ["fake-1"]
        timestamp(delivery["updated_at"])

    def test_unknown_id_is_404(self, client):
        assert_envelope(client.get(f"/otp/{UNKNOWN_ID}", headers=AUTH), 404, "not_found")

    @pytest.mark.parametrize("bad_id", ["short", "A" * 32, "a" * 31 + "1", "a" * 33, "a" * 31 + "!"])
    def test_malformed_id_in_path_is_404_envelope(self, client, bad_id):
        assert_envelope(client.get(f"/otp/{bad_id}", headers=AUTH), 404, "not_found")

    def test_code_of_another_client_is_404(self, app, client):
        code_id, _ = issue(app, client)
        assert_envelope(client.get(f"/otp/{code_id}", headers=OTHER_AUTH), 404, "not_found")


class TestCancel:
    """POST /otp/<id>/cancel ends a pending code; verify then says canceled."""

    def test_cancel_answers_200_with_the_new_status(self, app, client):
        code_id, _ = issue(app, client)
        reply = client.post(f"/otp/{code_id}/cancel", headers=AUTH)
        assert reply.status_code == 200
        assert reply.get_json() == {"id": code_id, "status": "canceled"}
        assert client.get(f"/otp/{code_id}", headers=AUTH).get_json()["status"] == "canceled"

    def test_verify_after_cancel_is_410_canceled_even_with_the_right_code(self, app, client):
        code_id, code = issue(app, client)
        client.post(f"/otp/{code_id}/cancel", headers=AUTH)
        assert_envelope(verify(client, phone=PHONE, code=code), 410, "canceled")
        assert_envelope(verify(client, id=code_id, code=code), 410, "canceled")

    def test_unknown_id_is_404(self, client):
        assert_envelope(client.post(f"/otp/{UNKNOWN_ID}/cancel", headers=AUTH), 404, "not_found")

    def test_malformed_id_is_404_envelope(self, client):
        assert_envelope(client.post("/otp/NOT-AN-ID/cancel", headers=AUTH), 404, "not_found")

    def test_code_of_another_client_cannot_be_canceled(self, app, client):
        code_id, code = issue(app, client)
        assert_envelope(client.post(f"/otp/{code_id}/cancel", headers=OTHER_AUTH), 404, "not_found")
        assert verify(client, id=code_id, code=code).get_json()["valid"] is True


ENDPOINTS = [
    pytest.param("post", "/otp/send", {"phone": PHONE}, id="send"),
    pytest.param("post", "/otp/verify", {"id": UNKNOWN_ID, "code": "123456"}, id="verify"),
    pytest.param("get", f"/otp/{UNKNOWN_ID}", None, id="status"),
    pytest.param("post", f"/otp/{UNKNOWN_ID}/cancel", None, id="cancel"),
]
BAD_CREDENTIALS = [
    pytest.param({}, id="no-header"),
    pytest.param({"Authorization": "Bearer wrong-api-key-0123456789"}, id="wrong-key"),
    pytest.param({"Authorization": f"Bearer {API_KEY}x"}, id="key-with-extra-char"),
    pytest.param({"Authorization": f"Basic {API_KEY}"}, id="basic-scheme"),
    pytest.param({"Authorization": f"Token {API_KEY}"}, id="token-scheme"),
    pytest.param({"Authorization": API_KEY}, id="no-scheme"),
    pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
]


class TestAuthentication:
    """Every /otp endpoint needs a valid Bearer key and says so with 401 and WWW-Authenticate."""

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    @pytest.mark.parametrize("headers", BAD_CREDENTIALS)
    def test_missing_or_wrong_credentials_are_401(self, client, method, path, body, headers):
        reply = getattr(client, method)(path, json=body, headers=headers)
        assert_envelope(reply, 401, "unauthorized")
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    def test_valid_key_is_accepted_on_every_endpoint(self, client, method, path, body):
        reply = getattr(client, method)(path, json=body, headers=AUTH)
        assert reply.status_code != 401 and "WWW-Authenticate" not in reply.headers

    def test_scheme_is_case_insensitive(self, client):
        assert send(client, headers={"Authorization": f"bearer {API_KEY}"}).status_code == 202

    def test_unauthenticated_send_starts_no_cooldown(self, app, client):
        send(client, headers={"Authorization": "Bearer wrong-api-key-0123456789"})
        assert send(client).status_code == 202  # no cooldown was started by the refused call


JSON = "application/json"
MALFORMED = [
    # (path, request kwargs, settings, status, code, field named in details)
    pytest.param("/otp/send", {"data": "{not json", "content_type": JSON}, {}, 400, "invalid_request", None,
                 id="send-garbage-body"),
    pytest.param("/otp/verify", {"data": '{"code": "1234', "content_type": JSON}, {}, 400, "invalid_request",
                 None, id="verify-garbage-body"),
    pytest.param("/otp/send", {"data": f'{{"phone": "{PHONE}"}}', "content_type": "text/plain"}, {}, 415,
                 "unsupported_media_type", None, id="send-text-plain"),
    pytest.param("/otp/verify", {"data": '{"phone": "x", "code": "123456"}', "content_type": "text/plain"}, {},
                 415, "unsupported_media_type", None, id="verify-text-plain"),
    pytest.param("/otp/send", {"data": f"phone={PHONE}", "content_type": "application/x-www-form-urlencoded"},
                 {}, 415, "unsupported_media_type", None, id="send-form-encoded"),
    pytest.param("/otp/send", {"json": [{"phone": PHONE}]}, {}, 400, "invalid_request", None, id="json-array"),
    pytest.param("/otp/send", {"json": PHONE}, {}, 400, "invalid_request", None, id="json-string"),
    pytest.param("/otp/send", {"data": "null", "content_type": JSON}, {}, 400, "invalid_request", None,
                 id="json-null"),
    pytest.param("/otp/verify", {"data": "42", "content_type": JSON}, {}, 400, "invalid_request", None,
                 id="json-number"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "channel": "sms"}}, {}, 400, "invalid_request",
                 "channel", id="send-unknown-field"),
    pytest.param("/otp/verify", {"json": {"phone": PHONE, "code": "123456", "remember": True}}, {}, 400,
                 "invalid_request", "remember", id="verify-unknown-field"),
    pytest.param("/otp/send", {"json": {"phone": 14155552671}}, {}, 400, "invalid_request", "phone",
                 id="phone-as-number"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "code_length": "6"}}, {}, 400, "invalid_request",
                 "code_length", id="code-length-as-string"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "code_length": 5}}, {}, 400, "invalid_request",
                 "code_length", id="code-length-5"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "ttl": True}}, {}, 400, "invalid_request", "ttl",
                 id="ttl-as-bool"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "ttl": 0}}, {}, 400, "invalid_request", "ttl",
                 id="ttl-zero"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "ttl": 601}}, {}, 400, "invalid_request", "ttl",
                 id="ttl-over-max"),
    pytest.param("/otp/send", {"json": {}}, {}, 400, "invalid_request", "phone", id="missing-phone"),
    pytest.param("/otp/send", {"json": {"phone": None}}, {}, 400, "invalid_request", "phone", id="null-phone"),
    pytest.param("/otp/verify", {"json": {"id": UNKNOWN_ID}}, {}, 400, "invalid_request", "code",
                 id="missing-code"),
    pytest.param("/otp/verify", {"json": {"code": "123456"}}, {}, 400, "invalid_request", "id",
                 id="neither-id-nor-phone"),
    pytest.param("/otp/verify", {"json": {"id": UNKNOWN_ID, "code": "12a456"}}, {}, 400, "invalid_request",
                 "code", id="code-with-letters"),
    pytest.param("/otp/verify", {"json": {"id": UNKNOWN_ID, "code": "12345"}}, {}, 400, "invalid_request",
                 "code", id="code-5-digits"),
    pytest.param("/otp/verify", {"json": {"id": UNKNOWN_ID, "code": "12345678901"}}, {}, 400,
                 "invalid_request", "code", id="code-11-digits"),
    pytest.param("/otp/verify", {"json": {"id": UNKNOWN_ID, "code": 123456}}, {}, 400, "invalid_request",
                 "code", id="code-as-number"),
    pytest.param("/otp/verify", {"json": {"id": "NOT-AN-ID", "code": "123456"}}, {}, 400, "invalid_request",
                 "id", id="bad-id-format"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "locale": "en US!"}}, {}, 400, "invalid_request",
                 "locale", id="bad-locale"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "client_ip": "300.1.2.3"}}, {}, 400, "invalid_request",
                 "client_ip", id="send-bad-client-ip"),
    pytest.param("/otp/verify", {"json": {"phone": PHONE, "code": "123456", "client_ip": "not-an-ip"}}, {},
                 400, "invalid_request", "client_ip", id="verify-bad-client-ip"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "user_ref": None}}, {}, 400, "invalid_request",
                 "user_ref", id="null-user-ref"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "user_ref": "u" * 129}}, {}, 400, "invalid_request",
                 "user_ref", id="user-ref-over-128"),
    pytest.param("/otp/verify", {"json": {"phone": PHONE, "code": "123456", "user_ref": ""}}, {}, 400,
                 "invalid_request", "user_ref", id="empty-user-ref"),
    pytest.param("/otp/send", {"json": {"phone": PHONE, "user_ref": "u" * 5000}}, {}, 413,
                 "payload_too_large", None, id="send-over-max-body"),
    pytest.param("/otp/verify", {"json": {"phone": PHONE, "code": "123456", "user_ref": "u" * 300}},
                 {"max_body_bytes": 256}, 413, "payload_too_large", None, id="verify-over-max-body"),
    pytest.param("/otp/send", {"json": {"phone": "call me maybe"}}, {}, 400, "invalid_phone", None,
                 id="unparsable-phone"),
    pytest.param("/otp/send", {"json": {"phone": "+1415555"}}, {}, 400, "invalid_phone", None,
                 id="too-short-phone"),
    pytest.param("/otp/send", {"json": {"phone": "4155552671"}}, {}, 400, "invalid_phone", None,
                 id="national-number-without-region"),
    pytest.param("/otp/verify", {"json": {"phone": "call me maybe", "code": "123456"}}, {}, 400,
                 "invalid_phone", None, id="verify-unparsable-phone"),
]


class TestMalformedRequests:
    """Every malformed request is refused with the error envelope and the right 4xx."""

    @pytest.mark.parametrize(("path", "request_kwargs", "settings", "status", "code", "field"), MALFORMED)
    def test_malformed_request_is_refused_with_the_envelope(self, make_app, path, request_kwargs, settings,
                                                            status, code, field):
        client = make_app(**settings).test_client()
        reply = client.post(path, headers=AUTH, **request_kwargs)
        error = assert_envelope(reply, status, code)
        if field:
            assert field in error["details"], error

    def test_malformed_send_starts_no_cooldown(self, client):
        send(client, user_ref=None)
        assert send(client).status_code == 202  # the malformed send started no cooldown


class TestRoutingErrors:
    """Unknown paths and wrong methods answer with the envelope too."""

    @pytest.mark.parametrize("path", ["/nope", "/otp", "/otp/", f"/otp/{UNKNOWN_ID}/resend", "/v2/otp/send"])
    def test_unknown_path_is_404_envelope(self, client, path):
        assert_envelope(client.get(path, headers=AUTH), 404, "not_found")

    def test_get_on_send_is_405_envelope_naming_post(self, client):
        reply = client.get("/otp/send", headers=AUTH)
        assert_envelope(reply, 405, "method_not_allowed")
        assert "POST" in reply.headers.get("Allow", "")

    @pytest.mark.parametrize(("method", "path", "allowed"), [
        ("put", "/otp/send", "POST"),
        ("delete", f"/otp/{UNKNOWN_ID}", "GET"),
        ("get", f"/otp/{UNKNOWN_ID}/cancel", "POST"),
        ("post", "/healthz", "GET"),
    ])
    def test_wrong_method_is_405_envelope_with_allow_header(self, client, method, path, allowed):
        reply = getattr(client, method)(path, headers=AUTH)
        assert_envelope(reply, 405, "method_not_allowed")
        assert allowed in reply.headers.get("Allow", "")


class BrokenRedis:
    """A Redis client whose every call fails with a plain RuntimeError carrying a private detail."""

    def register_script(self, script):
        def run(*args, **kwargs):
            raise RuntimeError("secret detail")

        run.sha, run.script = "0" * 40, script
        return run

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RuntimeError("secret detail")

        return fail


class TestInternalErrors:
    """An unexpected error answers 500 with the envelope and never shows the exception text."""

    @pytest.fixture
    def broken_client(self, make_settings):
        app = create_app(make_settings(), redis_client=BrokenRedis())
        app.testing = True
        return app.test_client()

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    def test_unexpected_error_is_500_internal_without_its_text(self, broken_client, method, path, body):
        reply = getattr(broken_client, method)(path, json=body, headers=AUTH)
        assert_envelope(reply, 500, "internal")
        assert "secret detail" not in reply.get_data(as_text=True)
        assert "RuntimeError" not in reply.get_data(as_text=True)

    def test_liveness_does_not_touch_the_broken_store(self, broken_client):
        assert broken_client.get("/healthz").status_code == 200


class TestHealth:
    """Liveness and readiness answer without an API key."""

    def test_healthz_is_200_ok(self, client):
        reply = client.get("/healthz")
        assert reply.status_code == 200 and reply.get_json() == {"status": "ok"}

    def test_readyz_is_200_ready_with_redis_up(self, client):
        reply = client.get("/readyz")
        assert reply.status_code == 200 and reply.get_json() == {"status": "ready"}
