"""A batch's whole journey: API, its batch in Redis, the bulk lane, a worker, a local Twilio, reports back.

The carrier is tests/support/carriers.TwilioCarrier (a real HTTP server); its status
callbacks are signed with Twilio's SDK and posted to the API's callback view; the
client's webhook is a real local endpoint whose events are checked with the client's
secret. The clock is the tests' own, so validity and back-off need no sleeping.
"""
from __future__ import annotations

import time

import pytest
from test_topologies import cluster  # noqa: F401 (a fixture: a three-node cluster of its own)

from otpgw.client import verify_webhook
from otpgw.delivery.scheduler import BACKLOG
from otpgw.delivery.worker import DeliveryWorker
from otpgw.otp.messages import gateway_webhooks
from otpgw.runtime import build_transports
from otpgw.store import Store

from support.carriers import TwilioCarrier
from support.flows import error, poll
from support.gateway import HOOK_SECRET, TEXT, accepted, batch, clients, drain, message, numbers, opt_out
from support.webhook_receiver import WebhookReceiver

PUBLIC_URL = "https://otp.example.com"


@pytest.fixture
def twilio():
    with TwilioCarrier() as carrier:
        yield carrier


@pytest.fixture
def receiver():
    endpoint = WebhookReceiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def gateway(make_app, twilio, receiver, clock):
    """An app whose only transport is the local Twilio; shop's webhook is the receiver."""
    def build(**overrides):
        transports = {"tw": {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID,
                             "auth_token": TwilioCarrier.AUTH_TOKEN, "from": "+15017122661", "base_url": twilio.url,
                             **overrides.pop("capacity", {})}}
        app = make_app(clock=clock, transports=transports, routes=[{"transports": ["tw"]}], public_url=PUBLIC_URL,
                       worker_retry_base=0.05,
                       clients=clients(receiver.url), webhook_retry_base=10, **overrides)
        return app, app.test_client()

    return build


@pytest.fixture
def workers(clock):
    made = []

    def build(app, consumer: str = "w1") -> DeliveryWorker:
        settings = app.extensions["otpgw.settings"]
        worker = DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["tw"]),
                                consumer=consumer, clock=clock)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.close()
        worker.store.close()


@pytest.fixture
def hooks(clock):
    made = []

    def build(app):
        dispatcher = gateway_webhooks(app.extensions["otpgw.settings"], app.extensions["otpgw.store"], clock=clock)
        made.append(dispatcher)
        return dispatcher

    yield build
    for dispatcher in made:
        dispatcher.close()


def reference(request) -> str:
    """The otpgw reference Twilio was given (in its StatusCallback URL)."""
    return request.form["StatusCallback"].rsplit("ref=", 1)[1]


def events(receiver, clock) -> list[dict]:
    """The delivered events, each checked against its signature, in the order they were emitted."""
    checked = [verify_webhook(r.body, r.headers["Otpgw-Signature"], HOOK_SECRET, now=clock.now)
               for r in receiver.delivered()]
    return sorted(checked, key=lambda e: tuple(map(int, e["id"].split("-"))))


class TestDelivery:
    """Each message reaches the carrier once, in order, with the batch's text and sender."""

    def test_messages_reach_twilio_in_order_with_text_and_sender(self, gateway, workers, twilio):
        app, client = gateway(worker_concurrency=1)
        given = numbers(12)
        answer = accepted(client, given, sender="ShopCo")
        drain(workers(app))
        assert [r.form["To"] for r in twilio.requests] == given
        assert {(r.form["Body"], r.form["From"]) for r in twilio.requests} == {(TEXT, "ShopCo")}
        assert [reference(r) for r in twilio.requests] == [m["id"] for m in answer["messages"]]
        shown = batch(client, answer["batch_id"])
        assert shown["status"] == "completed" and shown["counts"]["sent"] == 12
        assert {m["status"] for m in shown["messages"]} == {"sent"} and shown["messages"][0]["transport"] == "tw"

    def test_the_carrier_validity_is_the_messages_not_a_codes(self, gateway, workers, twilio):
        app, client = gateway(messages_validity=7200)
        accepted(client, numbers(1))
        drain(workers(app))
        assert 7000 < int(twilio.last.form["ValidityPeriod"]) <= 7200

    def test_twilios_reports_move_each_message_and_the_counts(self, gateway, workers, twilio):
        app, client = gateway()
        answer = accepted(client, numbers(3))
        drain(workers(app))
        sids = {reference(r): m["sid"] for r, m in zip(twilio.requests, twilio.messages)}
        first, second, third = (m["id"] for m in answer["messages"])
        assert twilio.status_callback(sids[first], "delivered").fire(client)[0] == 200
        twilio.status_callback(sids[second], "undelivered", error_code="30003").fire(client)
        twilio.status_callback(sids[first], "sent").fire(client)  # late: never moves it back
        assert message(client, first)["status"] == "delivered"
        shown = message(client, second)
        assert (shown["status"], shown["error_code"]) == ("undelivered", "30003")
        counts = batch(client, answer["batch_id"])["counts"]
        assert (counts["sent"], counts["delivered"], counts["undelivered"]) == (1, 1, 1)
        assert message(client, third)["carrier_ids"] == [sids[third]]

    def test_a_permanent_carrier_error_fails_the_message_with_its_code(self, gateway, workers, twilio):
        app, client = gateway()
        twilio.fail_next(TwilioCarrier.error(21211))
        answer = accepted(client, numbers(1))
        drain(workers(app))
        shown = message(client, answer["messages"][0]["id"])
        assert (shown["status"], shown["error_code"]) == ("failed", "21211")
        assert batch(client, answer["batch_id"])["status"] == "completed"

    def test_a_message_not_sent_within_its_validity_fails(self, gateway, workers, twilio, clock):
        app, client = gateway(messages_validity=600)
        answer = accepted(client, numbers(2))
        clock.advance(601)
        drain(workers(app))
        assert twilio.requests == []
        shown = message(client, answer["messages"][0]["id"])
        assert (shown["status"], shown["detail"]) == ("failed", "expired before delivery")

    def test_a_number_that_opts_out_after_the_submit_is_not_sent(self, gateway, workers, twilio):
        app, client = gateway()
        given = numbers(3)
        answer = accepted(client, given)
        opt_out(app, given[1])
        drain(workers(app))
        assert sorted(r.form["To"] for r in twilio.requests) == [given[0], given[2]]
        shown = message(client, answer["messages"][1]["id"])
        assert (shown["status"], shown["detail"]) == ("failed", "the recipient opted out")

    def test_two_workers_send_each_message_once(self, gateway, workers, twilio):
        app, client = gateway()
        answer = accepted(client, numbers(300))
        drain(workers(app, "w1"), workers(app, "w2"))
        assert sorted(reference(r) for r in twilio.requests) == sorted(m["id"] for m in answer["messages"])


class TestCancel:
    """Cancel stops what has not left; what left stays sent; the counts add up to the total."""

    def test_cancel_mid_batch(self, gateway, workers, twilio, hooks, receiver, clock):
        app, client = gateway(worker_concurrency=1)
        answer = accepted(client, numbers(40))
        worker = workers(app)
        for _ in range(5):
            worker.run_once(block_ms=5)
        assert len(twilio.requests) == 5
        reply = client.post(f"/batches/{answer['batch_id']}/cancel", headers={"Authorization": "Bearer "
                                                                                     "shop-messages-key-0123456789"})
        assert reply.status_code == 200 and reply.get_json()["status"] == "canceled"
        assert reply.get_json()["counts"]["canceled"] == 35  # what has not left counts as canceled at once
        drain(worker)
        assert len(twilio.requests) == 5
        shown = batch(client, answer["batch_id"], limit=40)
        assert shown["counts"]["sent"] == 5 and shown["counts"]["canceled"] == 35 and shown["canceled_at"]
        assert [m["status"] for m in shown["messages"]] == ["sent"] * 5 + ["canceled"] * 35
        hooks(app).run_once()
        summary = [e for e in events(receiver, clock) if e["type"] == "batch.completed"]
        assert len(summary) == 1 and summary[0]["data"]["status"] == "canceled"
        assert summary[0]["data"]["counts"]["canceled"] == 35

    def test_cancel_twice_is_harmless_and_a_completed_batch_stays_completed(self, gateway, workers):
        app, client = gateway()
        done = accepted(client, numbers(2))
        drain(workers(app))
        headers = {"Authorization": "Bearer shop-messages-key-0123456789"}
        assert client.post(f"/batches/{done['batch_id']}/cancel", headers=headers).get_json()["status"] == "completed"
        open_ = accepted(client, numbers(2, start=50))
        for _ in range(2):
            assert client.post(f"/batches/{open_['batch_id']}/cancel", headers=headers).get_json()["status"] == \
                "canceled"
        assert error(client.post("/batches/aaaaaaaaaaaaaaaaaaaa/cancel", headers=headers)) == (404, "not_found")


class TestReports:
    """Every status change is posted to the client's webhook, signed, and the batch's summary once."""

    def test_status_changes_and_the_summary_are_posted_signed(self, gateway, workers, twilio, hooks, receiver,
                                                               clock):
        app, client = gateway()
        answer = accepted(client, numbers(2))
        drain(workers(app))
        first, second = (m["id"] for m in answer["messages"])
        sid = twilio.messages[[reference(r) for r in twilio.requests].index(second)]["sid"]
        twilio.status_callback(sid, "undelivered", error_code="30005").fire(client)
        hooks(app).run_once()
        got = events(receiver, clock)
        kinds = [(e["type"], e["data"].get("message_id")) for e in got]
        assert sorted(kinds[:2]) == [("message.sent", first), ("message.sent", second)]
        assert ("batch.completed", None) in kinds and ("message.undelivered", second) in kinds
        summary = next(e for e in got if e["type"] == "batch.completed")
        assert summary["data"] == {"batch_id": answer["batch_id"], "client": "shop", "status": "completed",
                                   "counts": {"sent": 2, "delivered": 0, "undelivered": 0, "failed": 0,
                                              "canceled": 0}}
        undelivered = next(e for e in got if e["type"] == "message.undelivered")
        assert undelivered["data"] == {"message_id": second, "batch_id": answer["batch_id"], "client": "shop",
                                       "status": "undelivered", "error_code": "30005"}
        for event in receiver.delivered():
            assert numbers(2)[0][2:].encode() not in event.body and TEXT.encode() not in event.body

    def test_a_failed_post_is_retried_with_back_off(self, gateway, workers, hooks, receiver, clock):
        app, client = gateway()
        accepted(client, numbers(1))
        drain(workers(app))
        receiver.fail_next(500, 500)
        dispatcher = hooks(app)
        dispatcher.run_once()
        assert len(receiver.delivered()) == 0 and len(receiver.received) == 2
        clock.advance(9)
        assert dispatcher.run_once() == 0  # not due yet: the first retry waits 10 s
        clock.advance(2)
        dispatcher.run_once()
        assert {e["type"] for e in events(receiver, clock)} == {"message.sent", "batch.completed"}

    def test_a_client_without_a_webhook_gets_no_events(self, make_app, twilio, workers, clock):
        transports = {"tw": {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID,
                             "auth_token": TwilioCarrier.AUTH_TOKEN, "from": "+15017122661", "base_url": twilio.url}}
        app = make_app(clock=clock, transports=transports, routes=[{"transports": ["tw"]}], clients=clients())
        accepted(app.test_client(), numbers(3))
        drain(workers(app))
        assert app.extensions["otpgw.store"].outbox.pending() == 0


class TestRate:
    """A transport's rate holds for bulk messages across workers; none sleeps in a sending slot."""

    def test_two_workers_together_keep_the_transports_rate(self, gateway, twilio):
        app, client = gateway(capacity={"rate": 50, "burst": 5})
        accepted(client, numbers(60))
        settings = app.extensions["otpgw.settings"]
        made = [DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["tw"]),
                               consumer=f"w{i}") for i in range(2)]
        import threading

        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in made]
        for thread in threads:
            thread.start()
        try:
            poll(lambda: len(twilio.requests) >= 60, timeout=30, what="60 messages at the carrier")
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
            for worker in made:
                worker.close()
                worker.store.close()
        arrivals = sorted(r.at for r in twilio.requests)
        # 5 may go at once (the burst, less the reserve kept for codes), then one per 20 ms: never faster
        assert arrivals[-1] - arrivals[0] >= (60 - 5) / 50 * 0.95
        assert len(twilio.requests) == 60
        time.sleep(0.2)
        assert len(twilio.requests) == 60


@pytest.mark.slow
class TestAcceptance:
    """The issue's whole story at size: 10,000 recipients and a scheduled message through a local
    Twilio at its rate, signed reports, a STOP, and a code that does not wait for the batch."""

    def test_ten_thousand_recipients_a_scheduled_message_a_stop_and_a_code(self, make_app, twilio, receiver):
        import datetime as dt
        import threading

        from conftest import AUTH, PHONE
        from support.flows import issue_id

        rate, burst = 400, 40
        transports = {"tw": {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID,
                             "auth_token": TwilioCarrier.AUTH_TOKEN, "from": "+15017122661", "base_url": twilio.url,
                             "rate": rate, "burst": burst, "max_connections": 64}}
        app = make_app(transports=transports, routes=[{"transports": ["tw"]}], public_url=PUBLIC_URL,
                       clients=clients(receiver.url), worker_concurrency=32)
        client, settings = app.test_client(), app.extensions["otpgw.settings"]
        given = numbers(10_000)
        big = accepted(client, given)
        send_at = time.time() + 3
        later = accepted(client, numbers(1, start=50_000),
                         send_at=dt.datetime.fromtimestamp(send_at, tz=dt.timezone.utc).isoformat())
        stop = threading.Event()
        made = [DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["tw"]),
                               consumer=f"w{i}") for i in range(2)]
        dispatcher = gateway_webhooks(settings, app.extensions["otpgw.store"])
        threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in made]
        threads.append(threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"block_ms": 100}, daemon=True))
        for thread in threads:
            thread.start()
        try:
            twilio.wait_for(lambda got: len(got) >= 2000, timeout=300, what="the batch under way")
            before = len(twilio.requests)
            code_id = issue_id(client)
            got = twilio.wait_for(lambda got: any(r.form["To"] == PHONE for r in got), timeout=60, what="the code")
            waited_behind = next(i for i, r in enumerate(got) if r.form["To"] == PHONE) - before
            twilio.inbound(f"{PUBLIC_URL}/callbacks/tw/inbound", given[0], "STOP").fire(client)  # sent by now
            twilio.wait_for(lambda got: len(got) >= 10_002, timeout=900, what="every message")
            poll(lambda: sum(r.event["type"] == "batch.completed" for r in receiver.delivered()) == 2, timeout=300,
                 what="both batches' summaries")
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            for worker in made:
                worker.close()
                worker.store.close()
        bulk = [r for r in twilio.requests if r.form["To"] != PHONE]
        ids = [reference(r) for r in bulk]
        assert sorted(ids) == sorted([m["id"] for m in big["messages"]] + [later["messages"][0]["id"]])  # once each
        assert waited_behind <= 2 * 32  # the code went with what was in flight, not behind 8,000 waiting
        positions = {m["id"]: n for n, m in enumerate(big["messages"])}
        drift = max(abs(positions[i] - n) for n, i in enumerate(x for x in ids if x in positions))
        # in order, give or take what the bulk lane holds: a message that waited for a turn rejoins behind it
        assert drift <= 3 * BACKLOG
        arrivals = sorted(r.at for r in bulk)
        assert arrivals[-1] - arrivals[0] >= (len(bulk) + 1 - burst) / rate * 0.95  # within the rate
        scheduled = next(r for r in bulk if reference(r) == later["messages"][0]["id"])
        assert scheduled.at >= send_at - 0.05
        assert batch(client, big["batch_id"], limit=0)["counts"]["sent"] == 10_000
        assert submit_opted_out(client, given[0]) and client.get(f"/otp/{code_id}", headers=AUTH).status_code == 200
        sent_events = [r for r in receiver.delivered() if r.event["type"] == "message.sent"]
        assert len({r.event["data"]["message_id"] for r in sent_events}) == 10_001
        for r in sent_events[:50]:
            verify_webhook(r.body, r.headers["Otpgw-Signature"], HOOK_SECRET)


def submit_opted_out(client, number: str) -> bool:
    answer = client.post("/messages", json={"to": [number, numbers(1, start=60_000)[0]], "text": TEXT},
                         headers={"Authorization": "Bearer shop-messages-key-0123456789"}).get_json()
    return answer["opted_out"] == [number]


@pytest.mark.slow
class TestCluster:
    """On a three-node Redis Cluster (OTPGW_REDIS_CLUSTER) every batch script runs on one node."""

    def test_a_batch_and_a_scheduled_one_go_out_on_a_cluster(self, cluster, make_settings, clock):  # noqa: F811
        from otpgw import create_app
        from otpgw.transports.fake import FakeTransport

        settings = make_settings(redis_url=cluster, redis_cluster=True, clients=clients())
        app = create_app(settings, clock=clock)
        client = app.test_client()
        now = accepted(client, numbers(30))
        later = accepted(client, numbers(2, start=900), send_at=time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(clock.now + 120)))
        worker = DeliveryWorker(settings, app.extensions["otpgw.store"], FakeTransport(), clock=clock)
        drain(worker)
        clock.advance(121)
        drain(worker)
        sent = sorted(m.reference for m in worker.transports["fake"].sent)
        assert sent == sorted(m["id"] for m in now["messages"] + later["messages"])
        assert batch(client, now["batch_id"])["counts"]["sent"] == 30
