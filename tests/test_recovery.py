"""Recovery codes: ten single-use codes shown once, stored as keyed digests, spent atomically.

Runs through the Flask test client against the session's private redis-server.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest

from otpgw.domain.codes import Tags, key_id
from otpgw.otp.recovery import ALPHABET, digest, normalize

from conftest import AUTH, OTHER_AUTH, SECRET, verify
from support.flows import at_once, error, issue, limit, retry_after, wrong

KEY_B = "rotated-secret-key-fedcba9876543210"


def generate(client, user_ref="alice", headers=None):
    reply = client.post("/recovery/generate", json={"user_ref": user_ref}, headers=headers or AUTH)
    assert reply.status_code == 201, reply.get_json()
    return reply.json["codes"]


def recover(client, code, user_ref="alice", headers=None, **fields):
    return client.post("/recovery/verify", json={"user_ref": user_ref, "code": code, **fields},
                       headers=headers or AUTH)


def outcome(reply) -> str:
    return reply.json["reason"] if reply.status_code == 200 else f"{reply.status_code} {reply.json['error']['code']}"


def unused(codes: list[str]) -> str:
    """A well-formed code that is certainly not in ``codes``."""
    candidate = "22222-22222"
    while candidate in codes:
        candidate = candidate.replace("2", "3", 1)
    return candidate


class TestGenerate:
    """A set is ten distinct codes of ten characters from an alphabet without look-alikes."""

    def test_set_is_ten_grouped_codes_shown_once(self, client):
        reply = client.post("/recovery/generate", json={"user_ref": "alice"}, headers=AUTH)
        assert reply.status_code == 201 and reply.headers["Cache-Control"] == "no-store"
        assert set(reply.json) == {"factor", "codes", "created_at"} and reply.json["factor"] == "recovery"
        codes = reply.json["codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert all(re.fullmatch(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}", c) for c in codes), codes

    def test_alphabet_has_no_look_alikes(self):
        assert not set(ALPHABET) & set("01ilou") and len(set(ALPHABET)) == len(ALPHABET) == 30

    def test_count_and_length_follow_the_settings(self, make_app):
        codes = generate(make_app(recovery_code_count=12, recovery_code_length=15).test_client())
        assert len(codes) == 12 and all(len(c.replace("-", "")) == 15 and c.count("-") == 2 for c in codes)

    def test_codes_are_stored_only_as_keyed_digests(self, app, client, store, redis_client):
        codes = generate(client)
        tag = Tags(SECRET).user("app", "alice")
        stored = redis_client.hgetall(store.keys.factor(tag, "recovery"))
        fields = {f.decode() for f in stored if f.startswith(b"c:")}
        assert fields == {f"c:{key_id(SECRET)}:{digest(SECRET.encode(), tag, c)}" for c in codes}
        assert all(hashlib.sha256(normalize(c).encode()).hexdigest() not in str(stored) for c in codes)
        assert digest(KEY_B.encode(), tag, codes[0]) != digest(SECRET.encode(), tag, codes[0])  # keyed


class TestVerify:
    """Each code is accepted once; dashes, spaces and case do not matter."""

    def test_code_is_approved_once_and_counts_down(self, client):
        codes = generate(client)
        reply = recover(client, codes[0])
        assert reply.status_code == 200
        assert reply.json == {"valid": True, "reason": "approved", "factor": "recovery", "remaining": 9}
        assert recover(client, codes[0]).json == {"valid": False, "reason": "already_used", "factor": "recovery"}
        assert recover(client, codes[1]).json["remaining"] == 8

    @pytest.mark.parametrize("spelling", [str.upper, lambda c: c.replace("-", ""), lambda c: c.replace("-", " "),
                                          lambda c: f" {c.upper().replace('-', '')} ", lambda c: c[:3] + "-" + c[3:]])
    def test_any_case_with_or_without_the_dash_is_accepted(self, client, spelling):
        codes = generate(client)
        assert recover(client, spelling(codes[0])).json["valid"] is True
        assert recover(client, codes[0]).json["reason"] == "already_used"

    def test_wrong_code_is_invalid(self, client):
        codes = generate(client)
        assert recover(client, unused(codes)).json == {"valid": False, "reason": "invalid", "factor": "recovery"}

    def test_code_is_approved_only_once_under_50_concurrent_verifies(self, make_app):
        app = make_app(redis_timeout=5.0)
        codes = generate(app.test_client())
        replies = at_once(50, lambda _: recover(app.test_client(), codes[3]))
        assert Counter(map(outcome, replies)) == {"approved": 1, "already_used": 49}

    def test_all_ten_codes_can_be_spent_then_none(self, client):
        codes = generate(client)
        assert [recover(client, c).json["remaining"] for c in codes] == list(range(9, -1, -1))
        assert recover(client, codes[0]).json["reason"] == "already_used"

    def test_user_without_codes_is_404(self, client):
        reply = recover(client, "abcde-fghjk", user_ref="nobody")
        assert error(reply) == (404, "not_found")
        assert reply.json["error"]["details"] == {"reason": "not_found", "factor": "recovery"}

    def test_other_clients_user_is_404(self, client):
        codes = generate(client)
        assert error(recover(client, codes[0], headers=OTHER_AUTH)) == (404, "not_found")
        assert recover(client, codes[0]).json["valid"] is True


class TestRegenerate:
    """A new set revokes the old one at once."""

    def test_regenerating_revokes_every_old_code(self, client):
        old = generate(client)
        assert recover(client, old[0]).json["valid"] is True
        new = generate(client)
        assert not set(old) & set(new)
        assert [recover(client, c).json["reason"] for c in old[1:3]] == ["invalid", "invalid"]
        assert recover(client, new[0]).json == {"valid": True, "reason": "approved", "factor": "recovery",
                                                "remaining": 9}


class TestLockout:
    """Wrong recovery codes count toward the user_ref lockout shared with SMS and TOTP."""

    def test_wrong_codes_lock_the_user_ref(self, make_app):
        client = make_app(lockout_threshold=3, lockout_base=300).test_client()
        codes = generate(client)
        assert [recover(client, unused(codes)).json["reason"] for _ in range(2)] == ["invalid", "invalid"]
        reply = recover(client, unused(codes))
        assert error(reply) == (423, "locked") and limit(reply) == "user_ref" and retry_after(reply) == 300
        assert error(recover(client, codes[0])) == (423, "locked")

    def test_sms_failures_count_toward_the_same_lockout(self, make_app):
        app = make_app(lockout_threshold=3)
        client = app.test_client()
        codes = generate(client)
        code_id, code = issue(app, client, user_ref="alice")
        for _ in range(2):
            assert verify(client, id=code_id, code=wrong(code), user_ref="alice").json["reason"] == "invalid"
        assert error(recover(client, unused(codes))) == (423, "locked")
        assert error(verify(client, id=code_id, code=code, user_ref="alice")) == (423, "locked")

    def test_spent_codes_are_not_counted_as_failures(self, make_app):
        client = make_app(lockout_threshold=2).test_client()
        codes = generate(client)
        assert recover(client, codes[0]).json["valid"] is True
        assert [outcome(recover(client, codes[0])) for _ in range(3)] == ["already_used"] * 3
        assert recover(client, codes[1]).json["valid"] is True

    def test_client_ip_verify_limit_applies(self, make_app):
        client = make_app(ip_verify_max=1).test_client()
        codes = generate(client)
        assert recover(client, unused(codes), client_ip="203.0.113.9").json["reason"] == "invalid"
        reply = recover(client, codes[0], client_ip="203.0.113.9")
        assert error(reply) == (429, "rate_limited") and limit(reply) == "client_ip_verify"


class TestKeyRotation:
    """A set made under the old key still verifies after a new key is put first."""

    def test_codes_made_under_the_old_key_verify_after_rotation(self, make_app):
        codes = generate(make_app(secret_keys=(SECRET,)).test_client())
        rotated = make_app(secret_keys=(KEY_B, SECRET), tag_key=SECRET).test_client()
        assert recover(rotated, codes[0]).json["valid"] is True


@pytest.mark.parametrize("body", [
    {}, {"user_ref": "alice"}, {"user_ref": "alice", "code": 1234567890}, {"user_ref": "alice", "code": "abc"},
    {"user_ref": "alice", "code": "abcde-fghjk-mnpqr-stvwx-yz234"}, {"user_ref": "alice", "code": "abcde_fghjk"},
    {"user_ref": "alice", "code": "äbcde-fghjk"}, {"user_ref": "alice", "code": "abcde-fghjk", "extra": True},
    {"user_ref": "alice", "code": "abcde-fghjk", "client_ip": "nope"}, {"user_ref": "", "code": "abcde-fghjk"},
])
def test_malformed_verify_body_is_400(client, body):
    reply = client.post("/recovery/verify", json=body, headers=AUTH)
    assert error(reply) == (400, "invalid_request") and reply.json["error"]["details"]


@pytest.mark.parametrize("body", [{}, {"user_ref": None}, {"user_ref": "alice", "count": 5}, {"user_ref": ["alice"]}])
def test_malformed_generate_body_is_400(client, body):
    reply = client.post("/recovery/generate", json=body, headers=AUTH)
    assert error(reply) == (400, "invalid_request") and reply.json["error"]["details"]
