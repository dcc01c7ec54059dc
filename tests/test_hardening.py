"""Defects found by trying otpgw as an attacker and as an operator would, each pinned by a test.

(Key rotation is in test_rotation.py, costly number types in test_rules.py, graceful
stops in test_lanes.py, bodies and probes under gunicorn in test_serving.py.)
"""
from __future__ import annotations

import pytest

from conftest import AUTH, OTHER_AUTH, PHONE, send, verify
from support.flows import error, issue, issue_id, limit, wrong
from test_failures import build_app, own_server, silent_port  # noqa: F401  (fixtures)

MALFORMED = 400


class TestClientIpSpellings:
    """One client is one counter, however its address is written."""

    @pytest.mark.parametrize("spellings", [
        ["203.0.113.7", "::ffff:203.0.113.7", "::FFFF:CB00:7107", "64:ff9b::203.0.113.7", "2002:cb00:7107::1"],
        ["2001:db8:1:2::1", "2001:DB8:1:2::2", "2001:0db8:0001:0002:0000:0000:0000:0003", "2001:db8:1:2:ffff::4"],
    ], ids=["ipv4-embedded-in-ipv6", "one-ipv6-64"])
    def test_every_spelling_counts_against_one_limit(self, make_app, spellings):
        client = make_app(ip_send_max=len(spellings) - 1, resend_cooldown=0).test_client()
        answers = [send(client, f"+1415555{2900 + n:04d}", client_ip=ip).status_code for n, ip in enumerate(spellings)]
        assert answers[:-1] == [202] * (len(spellings) - 1)
        assert answers[-1] == 429

    def test_another_ipv6_64_has_its_own_counter(self, make_app):
        client = make_app(ip_send_max=1, resend_cooldown=0).test_client()
        assert send(client, PHONE, client_ip="2001:db8:1:2::1").status_code == 202
        assert send(client, "+14155552999", client_ip="2001:db8:1:3::1").status_code == 202

    def test_prefix_lengths_are_settings(self, make_app):
        client = make_app(ip_send_max=1, resend_cooldown=0, ipv6_prefix=128).test_client()
        assert send(client, PHONE, client_ip="2001:db8:1:2::1").status_code == 202
        assert send(client, "+14155552999", client_ip="2001:db8:1:2::2").status_code == 202

    @pytest.mark.parametrize("address", ["fe80::1%eth0", "010.0.0.1", " 203.0.113.7", "203.0.113.7\n"])
    def test_zone_ids_and_odd_spellings_are_refused(self, client, address):
        reply = send(client, client_ip=address)
        assert error(reply) == (400, "invalid_request") and "client_ip" in reply.get_json()["error"]["details"]


class TestMalformedBodies:
    """Every malformed body is a 400 in the envelope and costs nothing."""

    def test_deeply_nested_json_is_400_not_500(self, client):
        body = "[" * 2000 + "]" * 2000
        reply = client.post("/otp/send", data=body, headers={**AUTH, "Content-Type": "application/json"})
        assert error(reply) == (MALFORMED, "invalid_request")

    def test_code_with_a_trailing_newline_is_400_and_costs_no_attempt(self, app, client):
        code_id, code = issue(app, client)
        reply = verify(client, id=code_id, code=code + "\n")
        assert error(reply) == (MALFORMED, "invalid_request") and "code" in reply.get_json()["error"]["details"]
        assert client.get(f"/otp/{code_id}", headers=AUTH).get_json()["attempts"] == 0
        assert verify(client, id=code_id, code=code).get_json()["valid"] is True

    @pytest.mark.parametrize("field, value", [("id", "a" * 32 + "\n"), ("locale", "en\n")])
    def test_ids_and_locales_with_a_trailing_newline_are_400(self, client, field, value):
        fields = {"phone": PHONE, "code": "123456", field: value} if field == "id" else {field: value}
        reply = verify(client, **fields) if field == "id" else send(client, **fields)
        assert error(reply) == (MALFORMED, "invalid_request")


class TestUserRefBinding:
    """A code sent with a user_ref verifies only when that same user_ref is given."""

    def test_verify_without_the_user_ref_is_not_found_and_costs_nothing(self, app, client):
        code_id, code = issue(app, client, user_ref="alice")
        assert error(verify(client, id=code_id, code=code)) == (404, "not_found")
        assert error(verify(client, phone=PHONE, code=code)) == (404, "not_found")
        assert client.get(f"/otp/{code_id}", headers=AUTH).get_json()["attempts"] == 0
        assert verify(client, id=code_id, code=code, user_ref="alice").get_json()["valid"] is True


class TestStoreOutcomes:
    """A 503 says whether the request certainly did not happen or may have."""

    def test_refused_connection_says_nothing_happened(self, make_settings, own_server):
        app = build_app(make_settings(redis_url=own_server.url))
        own_server.stop()
        reply = send(app.test_client())
        assert error(reply) == (503, "unavailable")
        assert reply.get_json()["error"]["details"]["outcome"] == "not_applied"
        assert "nothing was sent" in reply.get_json()["error"]["message"]
        app.extensions["otpgw.store"].close()

    def test_timeout_after_the_request_was_sent_says_the_outcome_is_unknown(self, make_settings, silent_port):
        app = build_app(make_settings(redis_url=f"redis://127.0.0.1:{silent_port}/0", redis_timeout=0.2))
        reply = send(app.test_client())
        assert error(reply) == (503, "unavailable")
        body = reply.get_json()["error"]
        assert body["details"]["outcome"] == "unknown" and "may or may not" in body["message"]
        app.extensions["otpgw.store"].close()


class TestLockoutScope:
    """One client's failures lock a phone for that client only, unless the scope is global."""

    def lock_for(self, app, client, headers):
        code_id = issue_id(client, headers=headers)
        for _ in range(3):
            reply = verify(client, id=code_id, code="000000", headers=headers)
        return reply

    def test_another_clients_failures_do_not_lock_you_out(self, make_app):
        app = make_app(lockout_threshold=3, resend_cooldown=0)
        client = app.test_client()
        assert error(self.lock_for(app, client, OTHER_AUTH)) == (423, "locked")
        code_id, code = issue(app, client)
        assert verify(client, id=code_id, code=code).get_json()["valid"] is True

    def test_global_scope_shares_the_lock(self, make_app):
        app = make_app(lockout_threshold=3, resend_cooldown=0, lockout_scope="global")
        client = app.test_client()
        self.lock_for(app, client, OTHER_AUTH)
        reply = send(client)
        assert error(reply) == (423, "locked") and limit(reply) == "phone"

    def test_the_send_window_stays_global(self, make_app):
        app = make_app(send_window_max=1, resend_cooldown=0)
        client = app.test_client()
        assert send(client, headers=OTHER_AUTH).status_code == 202
        reply = send(client)
        assert error(reply) == (429, "rate_limited") and limit(reply) == "phone_send_window"


class TestNumberTypeMetrics:
    """Refusals by number type are counted, so an operator sees a pumping attempt."""

    def test_refused_type_is_counted(self, client):
        from phonenumbers import PhoneNumberType

        from test_rules import example

        send(client, example(PhoneNumberType.PREMIUM_RATE))
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'otpgw_number_type_refusals_total{number_type="premium_rate"}' in metrics
