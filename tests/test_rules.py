"""The rules the store enforces (DESIGN.md, "Rules the store enforces"), one class per row.

Every test runs against the session's private redis-server through the Flask test
client, and asserts what a caller sees: status, JSON body, ``Retry-After``. Real Redis
TTLs are exercised with TTLs of about a second; the test ``Clock`` moves only what the
scripts compute from the ``now`` the service passes (code expiry, the send window, the
UTC day). The "fail closed" row lives in its own file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import time
from collections import Counter

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from otpgw import cli
from otpgw.config import SettingsError
from otpgw.domain import codes
from otpgw.domain.phones import NUMBER_TYPES

from conftest import (
    API_KEY,
    AUTH,
    OTHER_AUTH,
    OTHER_PHONE,
    PHONE,
    SECRET,
    operator,
    send,
    sent_code,
    verify,
)
from support.flows import at_once, error, issue, limit, retry_after, wrong

THIRD_PHONE = "+14155552673"
KEY_A = SECRET
KEY_B = "rotated-secret-key-fedcba9876543210"
DAY_S = 86400


def e164(region: str, kind: PhoneNumberType) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


GB_MOBILE = e164("GB", PhoneNumberType.MOBILE)
GB_LANDLINE = e164("GB", PhoneNumberType.FIXED_LINE)


def plain_values(redis_client, key) -> list[bytes]:
    """Every value stored under ``key`` (the stream holds only sealed messages)."""
    kind = redis_client.type(key).decode()
    if kind == "string":
        return [redis_client.get(key)]
    if kind == "hash":
        return redis_client.hvals(key)
    if kind == "zset":
        return redis_client.zrange(key, 0, -1)
    return []


def outcome(reply) -> str:
    """One word per answer, for counting concurrent outcomes."""
    if reply.status_code == 200:
        return "approved" if reply.json["valid"] else "invalid"
    if reply.status_code == 202:
        return "accepted"
    return f"{reply.status_code} {reply.json['error']['code']}"


class TestCode:
    """A code is a run of 6 to 10 random digits, and Redis keeps only its keyed HMAC."""

    def test_default_code_has_six_digits(self, app, client):
        _, code = issue(app, client)
        assert len(code) == 6 and code.isdigit()

    @pytest.mark.parametrize("length", [6, 7, 8, 9, 10])
    def test_code_length_setting_is_honoured(self, make_app, length):
        app = make_app(code_length=length)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert len(code) == length and code.isdigit()
        assert verify(client, id=code_id, code=code).json["valid"] is True

    @pytest.mark.parametrize("length", [6, 8, 10])
    def test_code_length_per_request_is_honoured(self, app, client, length):
        code_id, code = issue(app, client, code_length=length)
        assert len(code) == length and code.isdigit()
        assert verify(client, id=code_id, code=code).json["valid"] is True

    @pytest.mark.parametrize("length", [5, 11])
    def test_code_length_outside_six_to_ten_is_refused_at_start_up(self, make_settings, length):
        with pytest.raises(SettingsError, match="CODE_LENGTH"):
            make_settings(code_length=length)

    @pytest.mark.parametrize("length", [5, 11])
    def test_code_length_outside_six_to_ten_is_refused_per_request(self, client, length):
        reply = send(client, code_length=length)
        assert error(reply) == (400, "invalid_request")
        assert "code_length" in reply.json["error"]["details"]

    def test_code_is_stored_only_as_its_keyed_hmac(self, app, client, redis_client):
        code_id, code = issue(app, client)
        store = app.extensions["otpgw.store"]
        tag = codes.tag_of(code_id)
        live_id, kid, stored = redis_client.get(store.keys.digest(tag, "app")).decode().split(":")
        assert live_id == code_id and kid == codes.key_id(KEY_A)
        assert stored != code and code not in stored
        assert stored != hashlib.sha256(code.encode()).hexdigest()  # not a bare, unkeyed hash
        assert stored == codes.code_digest(KEY_A.encode(), tag, "app", code)
        assert stored != codes.code_digest(KEY_B.encode(), tag, "app", code)  # the digest depends on the key

    def test_no_redis_value_holds_the_code_in_clear(self, app, client, redis_client):
        _, code = issue(app, client)
        for key in redis_client.scan_iter():
            assert code.encode() not in plain_values(redis_client, key), key
            assert code not in key.decode()


class TestCodeKeyRotation:
    """Codes issued under an older secret key still verify after a new key is put first."""

    def test_code_issued_under_the_old_key_verifies_after_rotation(self, make_app):
        before = make_app(secret_keys=(KEY_A,))
        code_id, code = issue(before, before.test_client())
        after = make_app(secret_keys=(KEY_B, KEY_A)).test_client()
        reply = verify(after, id=code_id, code=code)
        assert reply.status_code == 200 and reply.json["reason"] == "approved"

    def test_code_issued_under_a_key_this_server_lacks_is_503_and_costs_nothing(self, make_app):
        rotated = make_app(secret_keys=(KEY_B, KEY_A))
        code_id, code = issue(rotated, rotated.test_client())
        reverted = make_app(secret_keys=(KEY_A,)).test_client()
        reply = verify(reverted, id=code_id, code=code)
        assert error(reply) == (503, "unavailable") and reply.json["error"]["details"]["reason"] == "key_unknown"
        assert reply.headers["Retry-After"] == "1"
        assert reverted.get(f"/otp/{code_id}", headers=AUTH).json["attempts"] == 0
        assert verify(rotated.test_client(), id=code_id, code=code).json["reason"] == "approved"


class TestLifetime:
    """A code lives five minutes by default, at most ten, and then answers 410 expired."""

    def test_code_expires_when_its_ttl_has_passed(self, app, client):
        code_id, code = issue(app, client, ttl=1)
        time.sleep(1.2)
        reply = verify(client, id=code_id, code=code)
        assert error(reply) == (410, "expired")
        assert reply.json["error"]["details"] == {"reason": "expired", "id": code_id}
        assert client.get(f"/otp/{code_id}", headers=AUTH).json["status"] == "expired"

    def test_expired_code_verified_by_phone_names_the_reason(self, app, client):
        code_id, code = issue(app, client, ttl=1)
        time.sleep(1.2)
        reply = verify(client, phone=PHONE, code=code)
        assert error(reply) == (410, "expired")
        assert reply.json["error"]["details"]["id"] == code_id

    def test_default_lifetime_is_five_minutes(self, make_app, clock):
        app = make_app(clock=clock)
        client = app.test_client()
        reply = send(client)
        expires_at = dt.datetime.fromisoformat(reply.json["expires_at"].replace("Z", "+00:00"))
        assert expires_at.timestamp() == pytest.approx(clock.now + 300, abs=0.001)
        code = sent_code(app, reply.json["id"])
        clock.advance(300)
        assert error(verify(client, id=reply.json["id"], code=code)) == (410, "expired")

    def test_code_is_still_valid_just_before_its_lifetime_ends(self, make_app, clock):
        app = make_app(clock=clock)
        client = app.test_client()
        code_id, code = issue(app, client)
        clock.advance(299)
        assert verify(client, id=code_id, code=code).json["valid"] is True

    def test_ttl_above_the_configured_maximum_is_refused(self, make_app):
        client = make_app(max_code_ttl=60, code_ttl=60).test_client()
        reply = send(client, ttl=120)
        assert error(reply) == (400, "invalid_request")
        assert reply.json["error"]["details"] == {"ttl": 120}
        assert send(client, ttl=60).status_code == 202

    def test_ttl_above_ten_minutes_is_refused_per_request(self, client):
        reply = send(client, ttl=601)
        assert error(reply) == (400, "invalid_request")
        assert "ttl" in reply.json["error"]["details"]

    def test_maximum_ttl_above_ten_minutes_is_refused_at_start_up(self, make_settings):
        with pytest.raises(SettingsError, match="MAX_CODE_TTL"):
            make_settings(max_code_ttl=601)

    def test_default_ttl_above_the_maximum_is_refused_at_start_up(self, make_settings):
        with pytest.raises(SettingsError, match="CODE_TTL"):
            make_settings(code_ttl=400, max_code_ttl=300)


class TestSingleUse:
    """A code is approved at most once, even when 50 verifies of it race."""

    def test_code_is_approved_only_once_under_50_concurrent_verifies(self, make_app):
        app = make_app(redis_timeout=5.0)
        code_id, code = issue(app, app.test_client())
        replies = at_once(50, lambda _: verify(app.test_client(), id=code_id, code=code))
        assert Counter(map(outcome, replies)) == {"approved": 1, "410 already_used": 49}

    def test_used_code_is_refused_by_id_afterwards(self, app, client):
        code_id, code = issue(app, client)
        assert verify(client, id=code_id, code=code).json["valid"] is True
        reply = verify(client, id=code_id, code=code)
        assert error(reply) == (410, "already_used")
        assert client.get(f"/otp/{code_id}", headers=AUTH).json["status"] == "approved"

    def test_used_code_is_refused_by_phone_afterwards(self, app, client):
        code_id, code = issue(app, client)
        assert verify(client, phone=PHONE, code=code).json["valid"] is True
        reply = verify(client, phone=PHONE, code=code)
        assert error(reply) == (410, "already_used")
        assert reply.json["error"]["details"]["id"] == code_id


class TestAttemptsPerCode:
    """Each attempt is counted before the comparison; after five the code is dead."""

    def test_100_concurrent_wrong_guesses_are_compared_at_most_five_times(self, make_app):
        app = make_app(redis_timeout=5.0)
        client = app.test_client()
        code_id, code = issue(app, client)
        replies = at_once(100, lambda _: verify(app.test_client(), id=code_id, code=wrong(code)))
        assert Counter(map(outcome, replies)) == {"invalid": 5, "410 max_attempts": 95}
        left = sorted(r.json["attempts_left"] for r in replies if r.status_code == 200)
        assert left == [0, 1, 2, 3, 4]
        status = client.get(f"/otp/{code_id}", headers=AUTH).json
        assert status["attempts"] == 5 and status["status"] == "max_attempts"
        assert error(verify(client, id=code_id, code=code)) == (410, "max_attempts")

    def test_right_code_on_the_fifth_attempt_is_approved(self, app, client):
        code_id, code = issue(app, client)
        lefts = [verify(client, id=code_id, code=wrong(code)).json["attempts_left"] for _ in range(4)]
        assert lefts == [4, 3, 2, 1]
        reply = verify(client, id=code_id, code=code)
        assert reply.status_code == 200 and reply.json["reason"] == "approved"

    def test_right_code_after_five_wrong_is_refused(self, app, client):
        code_id, code = issue(app, client)
        for _ in range(4):
            verify(client, id=code_id, code=wrong(code))
        fifth = verify(client, id=code_id, code=wrong(code))
        assert fifth.json == {"valid": False, "id": code_id, "status": "max_attempts", "reason": "invalid",
                              "attempts_left": 0}
        reply = verify(client, id=code_id, code=code)
        assert error(reply) == (410, "max_attempts")

    def test_attempt_limit_follows_the_setting(self, make_app):
        app = make_app(max_attempts=2)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert verify(client, id=code_id, code=wrong(code)).json["attempts_left"] == 1
        assert verify(client, id=code_id, code=wrong(code)).json["status"] == "max_attempts"
        assert error(verify(client, id=code_id, code=code)) == (410, "max_attempts")


class TestBinding:
    """A code verifies only for its own id, phone, API client and user_ref."""

    def test_code_does_not_verify_for_another_api_client(self, app, client):
        code_id, code = issue(app, client)
        assert error(verify(client, headers=OTHER_AUTH, id=code_id, code=code)) == (404, "not_found")
        assert error(verify(client, headers=OTHER_AUTH, phone=PHONE, code=code)) == (404, "not_found")
        assert verify(client, id=code_id, code=code).json["valid"] is True

    def test_id_does_not_verify_with_another_phone(self, app, client):
        code_id, code = issue(app, client)
        reply = verify(client, id=code_id, phone=OTHER_PHONE, code=code)
        assert error(reply) == (404, "not_found")
        assert verify(client, id=code_id, phone=PHONE, code=code).json["valid"] is True

    def test_code_does_not_verify_for_another_user_ref(self, app, client):
        code_id, code = issue(app, client, user_ref="alice")
        assert error(verify(client, id=code_id, code=code, user_ref="mallory")) == (404, "not_found")
        assert error(verify(client, phone=PHONE, code=code, user_ref="mallory")) == (404, "not_found")
        assert verify(client, id=code_id, code=code, user_ref="alice").json["valid"] is True

    def test_code_sent_without_user_ref_does_not_verify_for_one(self, app, client):
        code_id, code = issue(app, client)
        assert error(verify(client, id=code_id, code=code, user_ref="alice")) == (404, "not_found")

    def test_another_clients_send_leaves_this_clients_code_live(self, make_app):
        app = make_app(resend_cooldown=0)
        client = app.test_client()
        mine, my_code = issue(app, client)
        theirs = send(client, PHONE, headers=OTHER_AUTH)
        assert theirs.status_code == 202
        their_code = sent_code(app, theirs.json["id"])
        assert verify(client, phone=PHONE, code=my_code).json == {
            "valid": True, "id": mine, "status": "approved", "reason": "approved"}
        assert verify(client, headers=OTHER_AUTH, phone=PHONE, code=their_code).json["id"] == theirs.json["id"]

    def test_status_and_cancel_are_not_found_for_another_api_client(self, app, client):
        code_id, _ = issue(app, client)
        assert error(client.get(f"/otp/{code_id}", headers=OTHER_AUTH)) == (404, "not_found")
        assert error(client.post(f"/otp/{code_id}/cancel", headers=OTHER_AUTH)) == (404, "not_found")
        assert client.get(f"/otp/{code_id}", headers=AUTH).json["status"] == "pending"


class TestResend:
    """Resends wait out a cooldown, fit five in ten minutes, and keep the failure count."""

    def test_resend_within_the_cooldown_is_refused(self, app, client):
        issue(app, client)
        reply = send(client)
        assert error(reply) == (429, "rate_limited")
        assert limit(reply) == "resend_cooldown"
        assert 1 <= retry_after(reply) <= 30

    def test_resend_after_the_cooldown_is_accepted(self, make_app):
        app = make_app(resend_cooldown=1)
        client = app.test_client()
        issue(app, client)
        assert limit(send(client)) == "resend_cooldown"
        time.sleep(1.1)
        assert send(client).status_code == 202

    def test_sixth_send_in_ten_minutes_is_refused_until_the_oldest_leaves_the_window(self, make_app, clock):
        app = make_app(clock=clock, resend_cooldown=0)
        client = app.test_client()
        for minute in range(5):
            clock.advance(60 if minute else 0)
            assert send(client).status_code == 202
        refused = send(client)  # sends at +0, +60, ... +240 s
        assert error(refused) == (429, "rate_limited")
        assert limit(refused) == "phone_send_window"
        assert retry_after(refused) == 600 - 240
        clock.advance(360)
        assert send(client).status_code == 202
        assert retry_after(send(client)) == 60

    def test_window_is_per_phone(self, make_app):
        client = make_app(resend_cooldown=0).test_client()
        for _ in range(5):
            assert send(client).status_code == 202
        assert limit(send(client)) == "phone_send_window"
        assert send(client, OTHER_PHONE).status_code == 202

    def test_concurrent_sends_never_exceed_the_window(self, make_app):
        app = make_app(resend_cooldown=0, redis_timeout=5.0)
        replies = at_once(30, lambda _: send(app.test_client()))
        assert Counter(map(outcome, replies)) == {"accepted": 5, "429 rate_limited": 25}
        assert {limit(r) for r in replies if r.status_code == 429} == {"phone_send_window"}

    def test_concurrent_sends_within_the_cooldown_issue_one_code(self, make_app):
        app = make_app(redis_timeout=5.0)
        replies = at_once(30, lambda _: send(app.test_client()))
        assert Counter(map(outcome, replies)) == {"accepted": 1, "429 rate_limited": 29}

    def test_resend_supersedes_the_previous_code(self, make_app):
        app = make_app(resend_cooldown=0)
        client = app.test_client()
        old_id, old_code = issue(app, client)
        new_id, new_code = issue(app, client)
        assert error(verify(client, id=old_id, code=old_code)) == (410, "canceled")
        assert verify(client, id=new_id, code=new_code).json["valid"] is True

    def test_resend_never_resets_the_failure_count(self, make_app):
        app = make_app(resend_cooldown=0, lockout_threshold=3, max_attempts=5)
        client = app.test_client()
        first_id, first_code = issue(app, client)
        for _ in range(2):
            assert verify(client, id=first_id, code=wrong(first_code)).json["reason"] == "invalid"
        second_id, second_code = issue(app, client)
        reply = verify(client, id=second_id, code=wrong(second_code))
        assert error(reply) == (423, "locked")
        assert limit(reply) == "phone"


class TestLockout:
    """Failures per phone and per user_ref lock for a while, doubling on repeat; an operator can release."""

    def lock(self, client, code_id, code, threshold, **fields):
        """Fail ``threshold`` times; return the answer that started the lock."""
        for _ in range(threshold - 1):
            assert verify(client, id=code_id, code=wrong(code), **fields).json["reason"] == "invalid"
        return verify(client, id=code_id, code=wrong(code), **fields)

    def test_threshold_of_failures_locks_the_phone(self, make_app):
        app = make_app(lockout_threshold=3, lockout_base=120)
        client = app.test_client()
        code_id, code = issue(app, client)
        reply = self.lock(client, code_id, code, 3)
        assert error(reply) == (423, "locked")
        assert limit(reply) == "phone" and retry_after(reply) == 120
        assert reply.json["error"]["details"]["attempts_left"] == 2

    def test_failures_across_codes_count_together(self, make_app):
        app = make_app(lockout_threshold=3, resend_cooldown=0)
        client = app.test_client()
        for _ in range(2):
            code_id, code = issue(app, client)
            assert verify(client, id=code_id, code=wrong(code)).json["reason"] == "invalid"
        code_id, code = issue(app, client)
        assert error(verify(client, id=code_id, code=wrong(code))) == (423, "locked")

    def test_defaults_lock_for_an_hour_after_ten_failures(self, make_app):
        app = make_app(resend_cooldown=0)
        client = app.test_client()
        code_id, code = issue(app, client)
        for _ in range(5):
            assert verify(client, id=code_id, code=wrong(code)).json["reason"] == "invalid"
        code_id, code = issue(app, client)
        for _ in range(4):
            assert verify(client, id=code_id, code=wrong(code)).json["reason"] == "invalid"
        reply = verify(client, id=code_id, code=wrong(code))
        assert error(reply) == (423, "locked") and retry_after(reply) == 3600

    def test_locked_phone_cannot_verify_even_the_right_code(self, make_app):
        app = make_app(lockout_threshold=3)
        client = app.test_client()
        code_id, code = issue(app, client)
        self.lock(client, code_id, code, 3)
        reply = verify(client, id=code_id, code=code)
        assert error(reply) == (423, "locked")
        assert 1 <= retry_after(reply) <= 3600

    def test_locked_phone_cannot_request_a_code(self, make_app):
        app = make_app(lockout_threshold=3, resend_cooldown=0)
        client = app.test_client()
        code_id, code = issue(app, client)
        self.lock(client, code_id, code, 3)
        reply = send(client)
        assert error(reply) == (423, "locked")
        assert limit(reply) == "phone" and 1 <= retry_after(reply) <= 3600
        assert send(client, OTHER_PHONE).status_code == 202

    def test_lock_ends_by_itself_after_its_duration(self, make_app):
        app = make_app(lockout_threshold=2, lockout_base=1)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert retry_after(self.lock(client, code_id, code, 2)) == 1
        time.sleep(1.1)
        assert verify(client, id=code_id, code=code).json["valid"] is True

    def test_repeat_lockout_doubles(self, make_app):
        app = make_app(lockout_threshold=2, lockout_base=1, lockout_max=60, max_attempts=10)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert retry_after(self.lock(client, code_id, code, 2)) == 1
        time.sleep(1.1)
        second = self.lock(client, code_id, code, 2)
        assert error(second) == (423, "locked") and retry_after(second) == 2
        assert retry_after(verify(client, id=code_id, code=code)) == 2

    def test_repeat_lockout_is_capped_at_lockout_max(self, make_app):
        app = make_app(lockout_threshold=2, lockout_base=1, lockout_max=1, max_attempts=10)
        client = app.test_client()
        code_id, code = issue(app, client)
        assert retry_after(self.lock(client, code_id, code, 2)) == 1
        time.sleep(1.1)
        second = self.lock(client, code_id, code, 2)
        assert error(second) == (423, "locked") and retry_after(second) == 1

    def test_user_ref_failures_lock_across_phones(self, make_app):
        app = make_app(lockout_threshold=3)
        client = app.test_client()
        first_id, first_code = issue(app, client, PHONE, user_ref="alice")
        second_id, second_code = issue(app, client, OTHER_PHONE, user_ref="alice")
        for _ in range(2):
            assert verify(client, id=first_id, code=wrong(first_code), user_ref="alice").json["reason"] == "invalid"
        reply = verify(client, id=second_id, code=wrong(second_code), user_ref="alice")
        assert error(reply) == (423, "locked") and limit(reply) == "user_ref"
        assert error(verify(client, id=second_id, code=second_code, user_ref="alice")) == (423, "locked")
        refused = send(client, THIRD_PHONE, user_ref="alice")
        assert error(refused) == (423, "locked") and limit(refused) == "user_ref"
        assert send(client, THIRD_PHONE, user_ref="bob").status_code == 202

    def test_success_resets_the_failure_count(self, make_app):
        app = make_app(lockout_threshold=3, resend_cooldown=0)
        client = app.test_client()
        code_id, code = issue(app, client)
        for _ in range(2):
            verify(client, id=code_id, code=wrong(code))
        assert verify(client, id=code_id, code=code).json["valid"] is True
        code_id, code = issue(app, client)
        for _ in range(2):
            assert verify(client, id=code_id, code=wrong(code)).json["reason"] == "invalid"
        assert error(verify(client, id=code_id, code=wrong(code))) == (423, "locked")

    def test_success_resets_the_user_ref_failure_count(self, make_app):
        app = make_app(lockout_threshold=3)
        client = app.test_client()
        first_id, first_code = issue(app, client, PHONE, user_ref="alice")
        second_id, second_code = issue(app, client, OTHER_PHONE, user_ref="alice")
        for _ in range(2):
            verify(client, id=first_id, code=wrong(first_code), user_ref="alice")
        assert verify(client, id=first_id, code=first_code, user_ref="alice").json["valid"] is True
        for _ in range(2):
            assert verify(client, id=second_id, code=wrong(second_code), user_ref="alice").json["reason"] == "invalid"

    def test_operator_unlock_lets_the_phone_verify_again(self, make_app):
        app = make_app(lockout_threshold=3)
        client = app.test_client()
        code_id, code = issue(app, client)
        self.lock(client, code_id, code, 3)
        tool = operator(app)
        assert tool.run("unlock", phone=PHONE, user_ref=None, client=None) == "released"
        assert verify(client, id=code_id, code=code).json["valid"] is True

    def test_operator_unlock_of_a_user_ref_lets_it_request_codes_again(self, make_app):
        app = make_app(lockout_threshold=2)
        client = app.test_client()
        code_id, code = issue(app, client, user_ref="alice")
        self.lock(client, code_id, code, 2, user_ref="alice")
        assert limit(send(client, OTHER_PHONE, user_ref="alice")) == "user_ref"
        tool = operator(app)
        assert tool.run("unlock", phone=None, user_ref="alice", client="app") == "released"
        assert send(client, OTHER_PHONE, user_ref="alice").status_code == 202

    def test_cli_unlock_lets_the_phone_verify_and_request_again(self, make_app, redis_server, monkeypatch, capsys):
        app = make_app(lockout_threshold=3, resend_cooldown=0)
        client = app.test_client()
        code_id, code = issue(app, client)
        self.lock(client, code_id, code, 3)
        assert error(send(client)) == (423, "locked")
        for name in [n for n in os.environ if n.startswith("OTPGW_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("OTPGW_SECRET_KEYS", SECRET)
        monkeypatch.setenv("OTPGW_API_KEYS", f"app:{API_KEY}")
        monkeypatch.setenv("OTPGW_REDIS_URL", redis_server.url)
        assert cli.main(["unlock", PHONE]) == 0
        assert capsys.readouterr().out.strip() == "released"
        assert verify(client, id=code_id, code=code).json["valid"] is True
        assert send(client).status_code == 202


class TestPerClientIp:
    """Sends and verifies are limited per client_ip, whatever the phone."""

    def test_sends_from_one_ip_are_limited_across_phones(self, make_app):
        client = make_app(ip_send_max=2).test_client()
        assert send(client, PHONE, client_ip="192.0.2.1").status_code == 202
        assert send(client, OTHER_PHONE, client_ip="192.0.2.1").status_code == 202
        refused = send(client, THIRD_PHONE, client_ip="192.0.2.1")
        assert error(refused) == (429, "rate_limited")
        assert limit(refused) == "client_ip_send" and 1 <= retry_after(refused) <= 600
        assert send(client, THIRD_PHONE, client_ip="192.0.2.2").status_code == 202

    def test_verifies_from_one_ip_are_limited_across_phones(self, make_app):
        app = make_app(ip_verify_max=2)
        client = app.test_client()
        first_id, first_code = issue(app, client, PHONE)
        second_id, second_code = issue(app, client, OTHER_PHONE)
        third_id, third_code = issue(app, client, THIRD_PHONE)
        assert verify(client, id=first_id, code=wrong(first_code), client_ip="192.0.2.1").status_code == 200
        assert verify(client, id=second_id, code=wrong(second_code), client_ip="192.0.2.1").status_code == 200
        refused = verify(client, id=third_id, code=third_code, client_ip="192.0.2.1")
        assert error(refused) == (429, "rate_limited")
        assert limit(refused) == "client_ip_verify" and 1 <= retry_after(refused) <= 600
        assert verify(client, id=third_id, code=third_code, client_ip="192.0.2.2").json["valid"] is True

    def test_ip_limit_does_not_count_requests_without_an_ip(self, make_app):
        client = make_app(ip_send_max=1).test_client()
        assert send(client, PHONE).status_code == 202
        assert send(client, OTHER_PHONE, client_ip="2001:db8::1").status_code == 202
        assert limit(send(client, THIRD_PHONE, client_ip="2001:db8::1")) == "client_ip_send"


COSTLY_TYPES = [PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.TOLL_FREE,
                PhoneNumberType.PAGER, PhoneNumberType.UAN, PhoneNumberType.PERSONAL_NUMBER,
                PhoneNumberType.VOICEMAIL, PhoneNumberType.VOIP]


def example(kind) -> str:
    """An example number of ``kind`` from the first region phonenumbers has one for."""
    for region in ("GB", "DE", "FR", "US", "IT", "AT", "AU", "BR"):
        found = phonenumbers.example_number_for_type(region, kind)
        if found is not None and phonenumbers.number_type(found) == kind:
            return phonenumbers.format_number(found, phonenumbers.PhoneNumberFormat.E164)
    raise LookupError(kind)


class TestNumberTypes:
    """Only mobile numbers receive codes by default: costly types are where SMS pumping pays."""

    @pytest.mark.parametrize("kind", COSTLY_TYPES, ids=lambda k: phonenumbers.PhoneNumberType.to_string(k))
    def test_costly_number_type_is_refused_naming_the_type(self, client, kind):
        reply = send(client, example(kind))
        assert error(reply) == (400, "invalid_phone")
        details = reply.json["error"]["details"]
        assert details["reason"] == "number_type" and details["number_type"] == NUMBER_TYPES[kind]

    def test_refusal_is_not_counted_against_the_phone(self, client, redis_client):
        send(client, example(PhoneNumberType.PREMIUM_RATE))
        assert redis_client.dbsize() == 0  # decided before Redis is touched

    def test_voip_is_accepted_when_opted_in(self, make_app):
        client = make_app(allowed_number_types=("mobile", "voip")).test_client()
        assert send(client, example(PhoneNumberType.VOIP)).status_code == 202

    def test_unknown_type_in_the_setting_is_refused_at_start_up(self, make_settings):
        with pytest.raises(SettingsError, match="OTPGW_ALLOWED_NUMBER_TYPES"):
            make_settings(allowed_number_types=("mobile", "premium"))


class TestTollFraud:
    """Sends honour the country allow-list, per-country daily caps, landline refusal and opt-outs."""

    def test_country_outside_the_allow_list_is_refused(self, make_app):
        client = make_app(allowed_countries=("GB",)).test_client()
        reply = send(client, PHONE)
        assert error(reply) == (403, "country_not_allowed")
        assert reply.json["error"]["details"] == {"country": "US"}
        assert send(client, GB_MOBILE).status_code == 202

    def test_country_daily_cap_refuses_until_utc_midnight(self, make_app, clock):
        client = make_app(clock=clock, country_daily_limit=2, resend_cooldown=0).test_client()
        assert send(client, PHONE).status_code == 202
        assert send(client, OTHER_PHONE).status_code == 202
        refused = send(client, THIRD_PHONE)
        assert error(refused) == (429, "rate_limited") and limit(refused) == "country_daily"
        to_midnight = DAY_S - clock.now % DAY_S
        assert to_midnight - 1 <= retry_after(refused) <= math.ceil(to_midnight)
        assert send(client, GB_MOBILE).status_code == 202

    def test_country_daily_cap_starts_afresh_on_the_next_utc_day(self, make_app, clock):
        client = make_app(clock=clock, country_daily_limit=1, resend_cooldown=0).test_client()
        assert send(client, PHONE).status_code == 202
        assert limit(send(client, OTHER_PHONE)) == "country_daily"
        clock.advance(DAY_S - clock.now % DAY_S + 1)
        assert send(client, OTHER_PHONE).status_code == 202

    def test_per_country_cap_overrides_the_default(self, make_app):
        client = make_app(country_daily_limits=(("US", 1),), resend_cooldown=0).test_client()
        assert send(client, PHONE).status_code == 202
        assert limit(send(client, OTHER_PHONE)) == "country_daily"
        for _ in range(3):
            assert send(client, GB_MOBILE).status_code == 202

    def test_number_prefix_cap_applies_to_its_longest_matching_prefix(self, make_app):
        client = make_app(prefix_daily_limits=(("+1415555", 2), ("+1", 100)), resend_cooldown=0).test_client()
        assert send(client, PHONE).status_code == 202
        assert send(client, OTHER_PHONE).status_code == 202
        refused = send(client, THIRD_PHONE)
        assert error(refused) == (429, "rate_limited") and limit(refused) == "prefix_daily"
        assert send(client, "+12125550143").status_code == 202  # under +1 only
        assert send(client, GB_MOBILE).status_code == 202  # under no prefix

    def test_bad_prefix_caps_are_refused_at_start_up(self, make_settings):
        for bad in ((("+", 5),), (("+1a", 5),), (("+1", 0),)):
            with pytest.raises(SettingsError, match="OTPGW_PREFIX_DAILY_LIMITS"):
                make_settings(prefix_daily_limits=bad)

    def test_landline_is_refused_when_configured(self, make_app):
        client = make_app(refuse_landlines=True, allowed_number_types=("mobile", "fixed_line")).test_client()
        reply = send(client, GB_LANDLINE)
        assert error(reply) == (400, "invalid_phone")
        assert reply.json["error"]["details"] == {"reason": "landline", "number_type": "fixed_line"}
        assert send(client, GB_MOBILE).status_code == 202

    def test_landline_is_refused_by_default_and_accepted_when_allowed(self, client, make_app):
        assert error(send(client, GB_LANDLINE)) == (400, "invalid_phone")
        allowed = make_app(allowed_number_types=("mobile", "fixed_line_or_mobile", "fixed_line")).test_client()
        assert send(allowed, GB_LANDLINE).status_code == 202

    def test_opted_out_phone_is_refused_until_it_opts_in(self, app, client):
        tool = operator(app)
        tool.run("opt-out", phone=PHONE, user_ref=None, client=None)
        reply = send(client, PHONE)
        assert error(reply) == (403, "opted_out")
        assert send(client, OTHER_PHONE).status_code == 202
        tool.run("opt-in", phone=PHONE, user_ref=None, client=None)
        assert send(client, PHONE).status_code == 202
