"""POST /otp/send with an Idempotency-Key: a retry returns the first answer and sends nothing new."""
from __future__ import annotations

import pytest

from conftest import AUTH, OTHER_AUTH, OTHER_PHONE, PHONE, send
from support.flows import at_once, error

KEY = {"Idempotency-Key": "order-7731-login"}


def queued(app) -> int:
    """Messages waiting on the otp lane: one per SMS that will go out."""
    store = app.extensions["otpgw.store"]
    return store.client.xlen(store.keys.lane("otp"))


def with_key(key: str = "order-7731-login", auth=AUTH) -> dict:
    return {**auth, "Idempotency-Key": key}


class TestRepeatedSend:
    """The same key from the same client returns the first answer, however often and however concurrently."""

    def test_a_retry_returns_the_first_answer_and_queues_no_second_sms(self, app, client):
        first = send(client, headers=with_key(), user_ref="alice")
        again = send(client, headers=with_key(), user_ref="alice")
        assert first.status_code == again.status_code == 202
        assert again.get_json() == first.get_json()
        assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
        assert queued(app) == 1

    def test_ten_concurrent_identical_requests_send_one_sms(self, make_app):
        app = make_app()
        replies = at_once(10, lambda _: send(app.test_client(), headers=with_key("concurrent-1")))
        assert {r.status_code for r in replies} == {202}
        assert len({r.get_json()["id"] for r in replies}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies) == 9
        assert queued(app) == 1

    def test_another_spelling_of_the_same_number_is_the_same_request(self, app, client):
        first = send(client, PHONE, headers=with_key())
        again = send(client, "+1 (415) 555-2671", headers=with_key())
        assert again.get_json()["id"] == first.get_json()["id"] and queued(app) == 1

    def test_the_key_is_remembered_for_a_day(self, app, client, redis_client):
        send(client, headers=with_key())
        ttls = [redis_client.pttl(k) for k in redis_client.scan_iter("*:idem")]
        assert len(ttls) == 1 and 86_300_000 < ttls[0] <= 86_400_000


class TestMismatch:
    """The same key with another request is refused: 422 idempotency_mismatch, nothing sent."""

    @pytest.mark.parametrize("change", [{"phone": OTHER_PHONE}, {"user_ref": "bob"}, {"ttl": 60},
                                        {"code_length": 8}])
    def test_same_key_with_another_body_is_422(self, app, client, change):
        send(client, headers=with_key(), user_ref="alice")
        body = {"phone": PHONE, "user_ref": "alice", **change}
        reply = client.post("/otp/send", json=body, headers=with_key())
        assert error(reply) == (422, "idempotency_mismatch")
        assert queued(app) == 1

    def test_keys_belong_to_their_client(self, app, client):
        mine = send(client, headers=with_key())
        theirs = send(client, OTHER_PHONE, headers=with_key(auth=OTHER_AUTH))
        assert theirs.status_code == 202 and theirs.get_json()["id"] != mine.get_json()["id"]
        assert queued(app) == 2


class TestRefusedFirstSend:
    """Only a successful send is remembered: after a refusal the same key is a new attempt."""

    def test_a_retry_after_a_rate_limit_is_tried_afresh(self, make_app, clock):
        app = make_app(clock=clock, resend_cooldown=0, send_window=60, send_window_max=1)
        client = app.test_client()
        assert send(client).status_code == 202  # fills the phone's send window
        refused = send(client, headers=with_key("retry-me"))
        assert error(refused) == (429, "rate_limited")
        clock.advance(61)
        retried = send(client, headers=with_key("retry-me"))
        assert retried.status_code == 202 and "Idempotent-Replayed" not in retried.headers
        assert send(client, headers=with_key("retry-me")).get_json()["id"] == retried.get_json()["id"]

    def test_a_request_refused_before_the_store_leaves_no_trace(self, app, client):
        assert error(send(client, "+1415", headers=with_key())) == (400, "invalid_phone")
        assert send(client, headers=with_key()).status_code == 202


class TestHeader:
    """The header is 1-255 visible ASCII characters; anything else is 400 before anything happens."""

    @pytest.mark.parametrize("value", ["", "has space", "x" * 256, "tab\there"])
    def test_a_malformed_key_is_400(self, app, client, value):
        reply = send(client, headers=with_key(value))
        assert error(reply) == (400, "invalid_request")
        assert reply.get_json()["error"]["details"] == {"header": "Idempotency-Key"}
        assert queued(app) == 0
