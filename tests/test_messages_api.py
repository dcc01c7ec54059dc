"""POST /messages, GET /messages/<id>, GET /batches/<id>: who may call them and what they answer.

Against the private redis-server; the numbers in a request are validated, de-duplicated
and checked for opt-outs, and the answer says what happened to each of them.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from otpgw.domain.codes import Tags
from otpgw.domain.phones import parse_phone
from otpgw.otp.messages.recipients import PhoneTagger, _FastE164

from conftest import AUTH, SECRET
from support.flows import at_once, error, retry_after
from support.gateway import NEWS, SHOP, TEXT, accepted, batch, clients, everything, message, numbers, opt_out, submit

GERMAN_LANDLINE = "+493012345678"
UK_MOBILE = "+447400123456"


@pytest.fixture
def gateway(make_app, clock):
    def build(**overrides):
        app = make_app(clock=clock, clients=overrides.pop("clients", clients()), **overrides)
        return app, app.test_client()

    return build


class TestAccess:
    """Only clients with messages_allowed use the API; each sees only its own batches (404 otherwise)."""

    @pytest.mark.parametrize("method, path", [("post", "/messages"), ("get", "/messages/aaaaaaaaaaaaaaaaaaaa-0"),
                                              ("get", "/batches/aaaaaaaaaaaaaaaaaaaa"),
                                              ("post", "/batches/aaaaaaaaaaaaaaaaaaaa/cancel"), ("get", "/inbound")])
    def test_a_client_without_messages_allowed_is_403_everywhere(self, gateway, method, path):
        _, client = gateway()
        reply = getattr(client, method)(path, json={"to": "+14155552671", "text": "hi"}, headers=AUTH)
        assert error(reply) == (403, "messages_not_allowed")

    def test_no_key_is_401(self, gateway):
        _, client = gateway()
        assert error(client.post("/messages", json={"to": "+14155552671", "text": "hi"})) == (401, "unauthorized")

    def test_another_clients_batch_and_messages_are_404(self, gateway):
        _, client = gateway()
        sent = accepted(client, numbers(2))
        batch_id, message_id = sent["batch_id"], sent["messages"][0]["id"]
        assert error(client.get(f"/batches/{batch_id}", headers=NEWS)) == (404, "not_found")
        assert error(client.get(f"/messages/{message_id}", headers=NEWS)) == (404, "not_found")
        assert error(client.post(f"/batches/{batch_id}/cancel", headers=NEWS)) == (404, "not_found")
        assert batch(client, batch_id)["status"] == "sending"  # the owner still sees it, not canceled

    @pytest.mark.parametrize("path", ["/messages/not-an-id", "/messages/aaaaaaaaaaaaaaaaaaaa-0",
                                      "/batches/aaaaaaaaaaaaaaaaaaaa", "/batches/x"])
    def test_unknown_ids_are_404(self, gateway, path):
        _, client = gateway()
        assert error(client.get(path, headers=SHOP)) == (404, "not_found")

    def test_a_message_id_past_its_batch_is_404(self, gateway):
        _, client = gateway()
        sent = accepted(client, numbers(2))
        assert error(client.get(f"/messages/{sent['batch_id']}-2", headers=SHOP)) == (404, "not_found")


class TestSubmit:
    """Each number is validated and normalised; invalid, duplicate and opted-out ones are reported."""

    def test_every_accepted_number_gets_a_message_id_in_request_order(self, gateway):
        _, client = gateway()
        given = numbers(3)
        answer = accepted(client, given)
        assert [m["to"] for m in answer["messages"]] == given
        assert [m["id"] for m in answer["messages"]] == [f"{answer['batch_id']}-{i}" for i in range(3)]
        assert answer["status"] == "sending" and answer["accepted"] == 3
        assert answer["invalid"] == answer["duplicates"] == answer["opted_out"] == []

    def test_one_number_as_a_string_is_a_batch_of_one(self, gateway):
        _, client = gateway()
        answer = accepted(client, "+1 (415) 555-2671")
        assert answer["messages"] == [{"to": "+14155552671", "id": f"{answer['batch_id']}-0"}]

    def test_invalid_duplicate_and_opted_out_numbers_are_listed_and_skipped(self, gateway):
        app, client = gateway()
        good = numbers(3)
        opt_out(app, good[2])
        given = [good[0], "+1 415-555-0000000", good[1], "(415) 12", good[0], "+14155552671 ", good[2], "x" * 50]
        answer = accepted(client, given)
        assert [m["to"] for m in answer["messages"]] == [good[0], good[1], "+14155552671"]
        assert [i["to"] for i in answer["invalid"]] == ["+1 415-555-0000000", "(415) 12", "x" * 40 + "…"]
        assert {i["code"] for i in answer["invalid"]} == {"invalid_phone"}
        assert answer["duplicates"] == [good[0]]
        assert answer["opted_out"] == [good[2]]
        assert batch(client, answer["batch_id"])["total"] == 3

    def test_country_and_number_type_rules_of_the_client_apply(self, gateway):
        _, client = gateway(clients=clients(allowed_countries=["US", "DE"]))
        answer = accepted(client, ["+14155552671", GERMAN_LANDLINE, UK_MOBILE])
        assert [m["to"] for m in answer["messages"]] == ["+14155552671"]
        assert [(i["to"], i["code"]) for i in answer["invalid"]] == [
            (GERMAN_LANDLINE, "invalid_phone"), (UK_MOBILE, "country_not_allowed")]
        assert answer["invalid"][0]["reason"] == "landline"

    def test_no_usable_number_is_400_and_all_opted_out_is_403(self, gateway):
        app, client = gateway()
        reply = submit(client, ["12", "+1415"])
        assert error(reply) == (400, "invalid_phone")
        assert [i["to"] for i in reply.get_json()["error"]["details"]["invalid"]] == ["12", "+1415"]
        opt_out(app, "+14155552671")
        reply = submit(client, ["+14155552671"])
        assert error(reply) == (403, "opted_out")
        assert reply.get_json()["error"]["details"]["opted_out"] == ["+14155552671"]

    @pytest.mark.parametrize("text, segments, encoding", [
        ("a" * 160, 1, "gsm7"), ("a" * 161, 2, "gsm7"), ("€" * 80, 1, "gsm7"), ("ü" * 70, 1, "gsm7"),
        ("ç" * 70, 1, "ucs2"), ("ç" * 71, 2, "ucs2"), ("🙂" * 35, 1, "ucs2")])
    def test_segments_and_encoding_are_counted(self, gateway, text, segments, encoding):
        _, client = gateway()
        answer = accepted(client, "+14155552671", text=text)
        assert (answer["segments"], answer["encoding"]) == (segments, encoding)

    def test_a_text_longer_than_the_clients_segment_cap_is_400(self, gateway):
        _, client = gateway(messages_client_max_segments={"shop": 2})
        assert accepted(client, "+14155552671", text="a" * 306)["segments"] == 2
        reply = submit(client, "+14155552671", text="a" * 307)
        assert error(reply) == (400, "invalid_request")
        assert reply.get_json()["error"]["details"] == {"segments": 3, "max_segments": 2}
        assert accepted(client, "+14155552671", text="a" * 500, headers=NEWS)["segments"] == 4  # news: the default

    def test_more_recipients_than_allowed_is_400(self, gateway):
        _, client = gateway(messages_max_recipients=3)
        reply = submit(client, numbers(4))
        assert error(reply) == (400, "invalid_request")
        assert reply.get_json()["error"]["details"]["max_recipients"] == 3

    def test_a_body_over_the_messages_limit_is_413(self, gateway):
        _, client = gateway(messages_max_body_bytes=4096)
        assert error(submit(client, numbers(300))) == (413, "payload_too_large")

    def test_the_body_limit_of_messages_is_its_own(self, gateway):
        """A batch of 1,000 numbers is far above OTPGW_MAX_BODY_BYTES (4 KiB), and accepted."""
        _, client = gateway()
        assert accepted(client, numbers(1000))["accepted"] == 1000

    def test_recipients_per_day_are_capped_per_client(self, gateway):
        _, client = gateway(messages_client_daily_recipients={"shop": 5})
        accepted(client, numbers(3))
        reply = submit(client, numbers(3, start=100))
        assert error(reply) == (429, "rate_limited")
        assert reply.get_json()["error"]["details"]["limit"] == "client_daily_recipients"
        assert 0 < retry_after(reply) <= 86400
        assert accepted(client, numbers(2, start=200))["accepted"] == 2  # exactly up to the cap
        assert accepted(client, numbers(3), headers=NEWS)["accepted"] == 3  # another client's own count

    @pytest.mark.parametrize("body, field", [
        ({"text": "hi"}, "to"), ({"to": [], "text": "hi"}, "to"), ({"to": [5], "text": "hi"}, "to"),
        ({"to": "+14155552671"}, "text"), ({"to": "+14155552671", "text": ""}, "text"),
        ({"to": "+14155552671", "text": "hi", "send_at": "2030-01-01T10:00:00"}, "send_at"),
        ({"to": "+14155552671", "text": "hi", "sender": "much too long a sender"}, "sender"),
        ({"to": "+14155552671", "text": "hi", "extra": 1}, "extra")])
    def test_malformed_requests_are_400_naming_the_field(self, gateway, body, field):
        _, client = gateway()
        reply = client.post("/messages", json=body, headers=SHOP)
        assert error(reply) == (400, "invalid_request")
        assert field in reply.get_json()["error"]["details"]


class TestIdempotency:
    """The same Idempotency-Key returns the first batch; another body with it is 422."""

    def test_a_retry_returns_the_first_answer_and_writes_no_second_batch(self, gateway, redis_client):
        app, client = gateway()
        opt_out(app, numbers(3)[2])
        headers = {**SHOP, "Idempotency-Key": "campaign-42"}
        first = submit(client, numbers(3) + ["12"], headers=headers)
        opt_out(app, numbers(3)[2], opted_out=False)  # the replay still reports what the first request did
        again = submit(client, numbers(3) + ["12"], headers=headers)
        assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        assert len(list(redis_client.scan_iter("*:meta"))) == 1

    def test_the_same_key_with_another_request_is_422(self, gateway):
        _, client = gateway()
        headers = {**SHOP, "Idempotency-Key": "campaign-43"}
        accepted(client, numbers(2), headers=headers)
        assert error(submit(client, numbers(2), text="other", headers=headers)) == (422, "idempotency_mismatch")

    def test_concurrent_identical_requests_write_one_batch(self, gateway, redis_client):
        app, _ = gateway()
        headers = {**SHOP, "Idempotency-Key": "campaign-44"}
        replies = at_once(6, lambda _: submit(app.test_client(), numbers(50), headers=headers))
        assert {r.status_code for r in replies} <= {202, 409}
        assert len({r.get_json()["batch_id"] for r in replies if r.status_code == 202}) == 1
        assert all(r.get_json()["error"]["code"] == "idempotency_in_progress" for r in replies if r.status_code == 409)
        assert len(list(redis_client.scan_iter("*:meta"))) == 1

    def test_keys_belong_to_their_client(self, gateway, redis_client):
        _, client = gateway()
        first = accepted(client, numbers(2), headers={**SHOP, "Idempotency-Key": "k-1"})
        other = accepted(client, numbers(2), headers={**NEWS, "Idempotency-Key": "k-1"})
        assert first["batch_id"] != other["batch_id"]


class TestReading:
    """A batch shows counts by status and pages of its messages; a message its own status."""

    def test_a_batch_lists_its_messages_page_by_page(self, gateway):
        _, client = gateway()
        answer = accepted(client, numbers(5), reference="spring-sale")
        first = batch(client, answer["batch_id"], limit=2)
        assert [m["id"] for m in first["messages"]] == [m["id"] for m in answer["messages"][:2]]
        assert first["next_cursor"] == 2
        last = batch(client, answer["batch_id"], cursor=4, limit=2)
        assert [m["id"] for m in last["messages"]] == [answer["messages"][4]["id"]] and "next_cursor" not in last
        assert first["counts"] == {"scheduled": 0, "queued": 5, "sent": 0, "delivered": 0, "undelivered": 0,
                                   "failed": 0, "canceled": 0}
        assert (first["total"], first["text"], first["reference"]) == (5, TEXT, "spring-sale")
        assert batch(client, answer["batch_id"], limit=0)["messages"] == []

    def test_a_message_shows_its_batch_and_status(self, gateway):
        _, client = gateway()
        answer = accepted(client, numbers(1), sender="ShopCo", reference="r-1")
        shown = message(client, answer["messages"][0]["id"])
        assert shown["batch_id"] == answer["batch_id"] and shown["status"] == "queued"
        assert (shown["segments"], shown["encoding"], shown["reference"]) == (1, "gsm7", "r-1")
        assert shown["valid_until"] == answer["valid_until"]

    def test_a_scheduled_batch_says_so_until_its_time(self, gateway, clock):
        _, client = gateway()
        send_at = dt.datetime.fromtimestamp(clock.now + 3600, tz=dt.timezone(dt.timedelta(hours=2)))
        answer = accepted(client, numbers(2), send_at=send_at.isoformat())
        assert answer["status"] == "scheduled"
        assert batch(client, answer["batch_id"])["counts"]["scheduled"] == 2
        assert message(client, answer["messages"][0]["id"])["status"] == "scheduled"
        clock.advance(3601)
        assert batch(client, answer["batch_id"])["status"] == "sending"
        assert message(client, answer["messages"][0]["id"])["status"] == "queued"

    @pytest.mark.parametrize("offset_s, ok", [(30 * 86400 - 60, True), (30 * 86400 + 60, False), (-3600, False),
                                              (-30, True)])
    def test_send_at_is_within_30_days_and_not_in_the_past(self, gateway, clock, offset_s, ok):
        _, client = gateway()
        when = dt.datetime.fromtimestamp(clock.now + offset_s, tz=dt.timezone.utc).isoformat()
        reply = submit(client, "+14155552671", send_at=when)
        assert reply.status_code == (202 if ok else 400), reply.get_json()


class TestPrivacy:
    """Neither the numbers nor the text are in Redis in clear; the text is sealed once per batch."""

    def test_no_number_and_no_text_in_any_redis_value_or_key(self, gateway, redis_client):
        _, client = gateway()
        given = numbers(20)
        accepted(client, given, text="Secret sale code SPRING-7731 for you")
        dump = everything(redis_client)
        assert len(dump) > 20 * 100  # the sealed recipients are there
        assert b"SPRING-7731" not in dump
        for number in given:
            assert number[1:].encode() not in dump and number[-7:].encode() not in dump


class TestRecipientParsing:
    """The fast path classifies numbers exactly as parse_phone does, and tags them as Tags does."""

    def test_fast_classification_agrees_with_parse_phone(self):
        import phonenumbers
        from phonenumbers import PhoneNumberType

        fast = _FastE164()
        samples = []
        for region in sorted(phonenumbers.SUPPORTED_REGIONS):
            for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE,
                         PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is not None:
                    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                    samples += [e164, e164[:-1], e164 + "1", e164[:-1] + str((int(e164[-1]) + 3) % 10)]
        checked = 0
        for raw in samples:
            got = fast.parse(raw)
            if got is None:
                continue  # the full parse decides those
            checked += 1
            assert got == parse_phone(raw), raw
        assert checked > 1000

    def test_the_tag_is_the_phone_tag_of_the_codes(self):
        tagger, tags = PhoneTagger(SECRET), Tags(SECRET)
        for number in numbers(20) + [UK_MOBILE, GERMAN_LANDLINE]:
            assert tagger(number) == tags.phone(number)


class TestDocument:
    """The OpenAPI document covers the gateway's endpoints and their errors."""

    def test_the_gateway_is_documented(self, gateway):
        _, client = gateway()
        paths = client.get("/openapi.json").get_json()["paths"]
        post = paths["/messages"]["post"]
        assert set(post["responses"]) >= {"202", "400", "401", "403", "409", "413", "422", "429"}
        assert {"/messages/{message_id}", "/batches/{batch_id}", "/batches/{batch_id}/cancel", "/inbound"} <= set(
            paths)
        assert json.dumps(post).count("Idempotency-Key") >= 1
