"""Inbound SMS from every source: opt-out keywords for everyone, replies kept for their client.

Twilio's and Vonage's inbound webhooks are played by tests/support/carriers (signed with
the carriers' SDKs) and posted to the API's callback view; the modem is the simulator of
tests/support/modem_sim.py, read by its own worker. A reply belongs to the client whose
message last left for that number.
"""
from __future__ import annotations

import threading

import pytest

from otpgw.client import verify_webhook
from otpgw.delivery.worker import DeliveryWorker
from otpgw.otp.messages import gateway_webhooks
from otpgw.runtime import build_transports
from otpgw.store import Store
from otpgw.transports.fake import FakeTransport

from support.carriers import TwilioCarrier, VonageCarrier
from support.flows import error, poll
from support.gateway import (
    HOOK_SECRET,
    NEWS,
    SHOP,
    accepted,
    clients,
    drain,
    everything,
    numbers,
    submit,
)
from support.modem_sim import SimModem
from support.webhook_receiver import WebhookReceiver

PUBLIC_URL = "https://otp.example.com"
FAST = dict(command_timeout=0.5, send_timeout=2.0, ready_wait=5.0, keepalive=0.3, registration_timeout=3.0,
            reopen_backoff=0.05, reopen_backoff_max=0.2)
CUSTOMER = numbers(1, start=777)[0]


@pytest.fixture
def twilio():
    with TwilioCarrier() as carrier:
        yield carrier


@pytest.fixture
def vonage():
    with VonageCarrier() as carrier:
        yield carrier


@pytest.fixture
def receiver():
    endpoint = WebhookReceiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def gateway(make_app, twilio, vonage, receiver, clock):
    """Twilio and Vonage configured for inbound SMS; messages leave through a fake transport."""
    def build(**overrides):
        transports = {
            "tw": {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID, "auth_token": TwilioCarrier.AUTH_TOKEN,
                   "from": "+15017122661", "base_url": twilio.url},
            "vn": {"type": "vonage", "api_key": VonageCarrier.API_KEY, "api_secret": VonageCarrier.API_SECRET,
                   "signature_secret": VonageCarrier.SIGNATURE_SECRET, "signature_method": "sha256",
                   "from": "Acme", "base_url": vonage.url},
            "out": {"type": "fake"}, **overrides.pop("transports", {})}
        app = make_app(clock=clock, transports=transports, routes=overrides.pop("routes", [{"transports": ["out"]}]),
                       public_url=PUBLIC_URL, clients=clients(receiver.url), **overrides)
        return app, app.test_client()

    return build


@pytest.fixture
def worker(clock):
    made = []

    def build(app) -> DeliveryWorker:
        settings = app.extensions["otpgw.settings"]
        made.append(DeliveryWorker(settings, Store.connect(settings), [FakeTransport("out")], clock=clock))
        return made[-1]

    yield build
    for each in made:
        each.close()
        each.store.close()


def twilio_says(twilio, client, sender: str, text: str) -> None:
    status, _ = twilio.inbound(f"{PUBLIC_URL}/callbacks/tw/inbound", sender, text).fire(client)
    assert status == 200


def vonage_says(vonage, client, sender: str, text: str) -> None:
    status, _ = vonage.inbound(f"{PUBLIC_URL}/callbacks/vn/inbound", sender.lstrip("+"), text).fire(client)
    assert status == 200


def inbound(client, headers=None, **query) -> list[dict]:
    reply = client.get("/inbound", query_string=query, headers=headers or SHOP)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()["messages"]


class TestOptOut:
    """STOP (and its synonyms) opt a number out of every later message; START opts it back in."""

    @pytest.mark.parametrize("source", ["twilio", "vonage"])
    @pytest.mark.parametrize("word", ["STOP", "unsubscribe", "Cancel.", "END", "quit"])
    def test_a_stop_word_from_a_carrier_opts_out_and_start_opts_back_in(self, gateway, twilio, vonage, source, word):
        app, client = gateway()
        says = twilio_says if source == "twilio" else vonage_says
        carrier = twilio if source == "twilio" else vonage
        says(carrier, client, CUSTOMER, word)
        reply = submit(client, [CUSTOMER])
        assert error(reply) == (403, "opted_out")
        assert accepted(client, [CUSTOMER, numbers(1)[0]])["opted_out"] == [CUSTOMER]
        says(carrier, client, CUSTOMER, "START")
        assert accepted(client, [CUSTOMER])["opted_out"] == []

    def test_a_stop_between_submit_and_send_stops_the_message(self, gateway, twilio, worker):
        app, client = gateway()
        answer = accepted(client, [CUSTOMER])
        twilio_says(twilio, client, CUSTOMER, "stop")
        drained = worker(app)
        drain(drained)
        assert drained.transports["out"].sent == []
        shown = client.get(f"/messages/{answer['messages'][0]['id']}", headers=SHOP).get_json()
        assert (shown["status"], shown["detail"]) == ("failed", "the recipient opted out")


class TestReplies:
    """A reply reaches the client that last wrote to the number, and no other client."""

    def test_a_reply_is_kept_for_the_client_that_last_sent_to_the_number(self, gateway, twilio, worker):
        app, client = gateway()
        accepted(client, [CUSTOMER])
        drain(worker(app))
        twilio_says(twilio, client, CUSTOMER, "Can you deliver on Monday instead?")
        (got,) = inbound(client)
        assert (got["from"], got["to"], got["text"], got["transport"]) == (
            CUSTOMER, "+15017122661", "Can you deliver on Monday instead?", "tw")
        assert got["received_at"] and got["keyword"] is None  # no keyword: a plain reply
        assert inbound(client, headers=NEWS) == []

    def test_the_last_sender_wins(self, gateway, twilio, worker):
        app, client = gateway()
        accepted(client, [CUSTOMER])
        drain(worker(app))
        accepted(client, [CUSTOMER], headers=NEWS)
        drain(worker(app))
        twilio_says(twilio, client, CUSTOMER, "who is this?")
        assert [m["text"] for m in inbound(client, headers=NEWS)] == ["who is this?"] and inbound(client) == []

    def test_a_reply_from_a_number_no_client_wrote_to_is_not_kept(self, gateway, twilio, redis_client):
        _, client = gateway()
        twilio_says(twilio, client, CUSTOMER, "hello?")
        assert inbound(client) == [] and inbound(client, headers=NEWS) == []
        assert not list(redis_client.scan_iter("*:inbound"))

    def test_a_reply_is_posted_signed_to_the_clients_webhook(self, gateway, vonage, worker, receiver, clock):
        app, client = gateway()
        accepted(client, [CUSTOMER])
        drain(worker(app))
        vonage_says(vonage, client, CUSTOMER, "Yes please")
        vonage_says(vonage, client, CUSTOMER, "STOP")
        dispatcher = gateway_webhooks(app.extensions["otpgw.settings"], app.extensions["otpgw.store"], clock=clock)
        try:
            dispatcher.run_once()
        finally:
            dispatcher.close()
        got = [verify_webhook(r.body, r.headers["Otpgw-Signature"], HOOK_SECRET, now=clock.now)
               for r in receiver.delivered()]
        replies = sorted((e for e in got if e["type"] == "message.inbound"), key=lambda e: e["id"])
        assert [(e["data"]["from"], e["data"]["text"], e["data"]["keyword"]) for e in replies] == [
            (CUSTOMER, "Yes please", None), (CUSTOMER, "STOP", "stop")]
        assert replies[0]["data"]["client"] == "shop" and replies[0]["data"]["inbound_id"]

    def test_pages_go_back_in_time(self, gateway, twilio, worker):
        app, client = gateway()
        accepted(client, [CUSTOMER])
        drain(worker(app))
        for n in range(5):
            twilio_says(twilio, client, CUSTOMER, f"reply {n}")
        first = client.get("/inbound", query_string={"limit": 2}, headers=SHOP).get_json()
        assert [m["text"] for m in first["messages"]] == ["reply 4", "reply 3"]
        rest = inbound(client, limit=10, before=first["next_before"])
        assert [m["text"] for m in rest] == ["reply 2", "reply 1", "reply 0"]

    def test_replies_are_kept_sealed_and_only_for_the_retention(self, gateway, twilio, worker, clock, redis_client):
        app, client = gateway(messages_inbound_retention=3600)
        accepted(client, [CUSTOMER])
        drain(worker(app))
        twilio_says(twilio, client, CUSTOMER, "my door code is 4711 ring twice")
        stored = everything(redis_client)
        assert b"4711 ring twice" not in stored and CUSTOMER[2:].encode() not in stored
        clock.advance(3601)
        twilio_says(twilio, client, CUSTOMER, "still there?")
        assert [m["text"] for m in inbound(client)] == ["still there?"]


class TestModem:
    """Inbound SMS read from a modem (+CMTI) go the same way."""

    @pytest.fixture
    def sim(self, tmp_path):
        with SimModem(tmp_path) as modem:
            yield modem

    def test_stop_start_and_a_reply_through_the_modem(self, gateway, sim, worker):
        app, client = gateway(transports={"gsm": {"type": "modem", "port": sim.path, **FAST}})
        accepted(client, [CUSTOMER])
        drain(worker(app))
        settings = app.extensions["otpgw.settings"]
        store = Store.connect(settings, blocking_ms=settings.delivery.block_ms)
        device = DeliveryWorker(settings, store, build_transports(settings, ["gsm"]), consumer="modem-host")
        stop = threading.Event()
        thread = threading.Thread(target=device.run, args=(stop,), daemon=True)
        thread.start()
        try:
            poll(lambda: device.transports["gsm"].health().ready, timeout=10, what="the modem to be ready")
            sim.receive(CUSTOMER, "STOP")
            poll(lambda: submit(client, [CUSTOMER]).status_code == 403, timeout=10, what="the opt-out")
            sim.receive(CUSTOMER, "Start")
            poll(lambda: submit(client, [CUSTOMER]).status_code == 202, timeout=10, what="the opt-in")
            sim.receive(CUSTOMER, "Thanks, got it")
            poll(lambda: any(m["text"] == "Thanks, got it" for m in inbound(client)), timeout=10,
                 what="the reply to be kept")
        finally:
            stop.set()
            thread.join(10)
            device.close()
            store.close()
        assert [m["transport"] for m in inbound(client)] == ["gsm"] * 3
