"""Scheduled messages: kept in Redis until their send_at, promoted onto the bulk lane exactly once.

Promotion runs inside every worker that reads the bulk lane; several may run it at once.
The restart test runs a private redis-server with the append-only file on
(``--appendonly yes --appendfsync always``): scheduled batches are durable state, and
without persistence a Redis restart forgets them, as it forgets every code.
"""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from otpgw import create_app
from otpgw.config import load_settings
from otpgw.delivery.scheduler import Scheduler
from otpgw.delivery.worker import DeliveryWorker
from otpgw.otp.messages import gateway_webhooks
from otpgw.store import Store
from otpgw.transports.fake import FakeTransport

from conftest import SECRET, RedisServer
from support.flows import at_once
from support.gateway import SHOP, accepted, batch, clients, drain, numbers
from support.webhook_receiver import WebhookReceiver


def later(clock, seconds: float) -> str:
    return dt.datetime.fromtimestamp(clock.now + seconds, tz=dt.timezone.utc).isoformat()


@pytest.fixture
def gateway(make_app, clock):
    def build(**overrides):
        app = make_app(clock=clock, clients=overrides.pop("clients", clients()), **overrides)
        return app, app.test_client()

    return build


@pytest.fixture
def receiver():
    endpoint = WebhookReceiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def workers(clock):
    made = []

    def build(app, consumer: str = "w1") -> DeliveryWorker:
        settings = app.extensions["otpgw.settings"]
        worker = DeliveryWorker(settings, Store.connect(settings), [FakeTransport("fake")], consumer=consumer,
                                clock=clock)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.close()
        worker.store.close()


def sent(*workers: DeliveryWorker) -> list[str]:
    return [m.reference for w in workers for m in w.transports["fake"].sent]


def lane_ids(store) -> list[str]:
    return [fields[b"id"].decode() for _, fields in store.client.xrange(store.keys.lane("bulk"))]


class TestSchedule:
    """Nothing leaves before send_at; at send_at every message leaves once."""

    def test_a_scheduled_batch_waits_for_its_time(self, gateway, workers, clock):
        app, client = gateway()
        answer = accepted(client, numbers(5), send_at=later(clock, 600))
        worker = workers(app)
        drain(worker)
        assert sent(worker) == [] and batch(client, answer["batch_id"])["status"] == "scheduled"
        clock.advance(599)
        drain(worker)
        assert sent(worker) == []
        clock.advance(2)
        drain(worker)
        assert sorted(sent(worker)) == sorted(m["id"] for m in answer["messages"])
        assert batch(client, answer["batch_id"])["status"] == "completed"

    def test_scheduled_messages_survive_a_worker_restart(self, gateway, workers, clock):
        app, client = gateway()
        answer = accepted(client, numbers(3), send_at=later(clock, 60))
        first = workers(app, "before")
        drain(first)
        first.close()
        clock.advance(61)
        second = workers(app, "after")
        drain(second)
        assert sorted(sent(second)) == sorted(m["id"] for m in answer["messages"]) and sent(first) == []

    def test_a_scheduled_message_reports_queued_when_it_is_promoted(self, gateway, workers, receiver, clock):
        app, client = gateway(clients=clients(receiver.url))
        answer = accepted(client, numbers(2), send_at=later(clock, 60))
        immediate = accepted(client, numbers(1, start=10))
        clock.advance(61)
        workers(app).scheduler.promote()
        dispatcher = gateway_webhooks(app.extensions["otpgw.settings"], app.extensions["otpgw.store"], clock=clock)
        try:
            dispatcher.run_once()
        finally:
            dispatcher.close()
        queued = sorted(r.event["data"]["message_id"] for r in receiver.delivered()
                        if r.event["type"] == "message.queued")
        assert queued == sorted(m["id"] for m in answer["messages"])  # not the immediate batch's
        assert immediate["messages"][0]["id"] not in queued

    def test_canceling_a_scheduled_batch_sends_nothing(self, gateway, workers, clock):
        app, client = gateway()
        answer = accepted(client, numbers(4), send_at=later(clock, 60))
        reply = client.post(f"/batches/{answer['batch_id']}/cancel", headers=SHOP)
        assert reply.get_json()["counts"]["canceled"] == 4 and reply.get_json()["status"] == "canceled"
        clock.advance(61)
        worker = workers(app)
        drain(worker)
        assert sent(worker) == []
        assert batch(client, answer["batch_id"])["completed_at"]


class TestExactlyOnce:
    """However many schedulers run at once, each message goes onto the lane once."""

    def test_concurrent_schedulers_never_promote_a_message_twice(self, gateway, clock):
        app, client = gateway()
        answers = [accepted(client, numbers(400, start=i * 1000), send_at=later(clock, 30)) for i in range(3)]
        clock.advance(31)
        settings = app.extensions["otpgw.settings"]
        stores = [Store.connect(settings) for _ in range(6)]
        try:
            def promote(i: int) -> int:
                scheduler, moved = Scheduler(stores[i].messages, lambda: int(clock.now * 1000), backlog=5000), 0
                for _ in range(20):
                    moved += scheduler.promote()
                return moved

            moved = at_once(6, promote)
        finally:
            for store in stores:
                store.close()
        ids = lane_ids(app.extensions["otpgw.store"])
        expected = sorted(m["id"] for a in answers for m in a["messages"])
        assert sum(moved) == 1200 and sorted(ids) == expected  # each once: no duplicate, none missing

    def test_batches_take_turns_on_the_lane(self, gateway, clock):
        """A small batch behind a large one gets its share of the lane in the first pass."""
        app, client = gateway()
        large = accepted(client, numbers(600))
        small = accepted(client, numbers(5, start=5000), headers={"Authorization": "Bearer news-messages-key-"
                                                                                  "0123456789"})
        store = app.extensions["otpgw.store"]
        Scheduler(store.messages, lambda: int(clock.now * 1000), backlog=100).promote()
        ids = lane_ids(store)
        assert len(ids) == 100  # the room the small batch leaves goes to the large one
        assert {m["id"] for m in small["messages"]} <= set(ids)
        assert [i for i in ids if i.startswith(large["batch_id"])] == [m["id"] for m in large["messages"][:95]]

    def test_the_lane_is_kept_short_and_refilled_as_it_drains(self, gateway, workers, clock):
        app, client = gateway()
        answer = accepted(client, numbers(250))
        worker = workers(app)
        worker.scheduler.backlog = 100
        worker.scheduler.promote()
        assert len(lane_ids(app.extensions["otpgw.store"])) == 100
        drain(worker)
        assert sorted(sent(worker)) == sorted(m["id"] for m in answer["messages"])


class TestRestart:
    """A scheduled batch survives a Redis restart (with persistence) and goes out once on recovery."""

    def test_due_while_everything_was_down_goes_out_once(self, clock):
        with RedisServer("--appendonly", "yes", "--appendfsync", "always") as server:
            settings = load_settings(environ={}, secret_keys=(SECRET,), redis_url=server.url, transport="fake",
                                     clients=clients())
            app = create_app(settings, clock=clock)
            answer = accepted(app.test_client(), numbers(50), send_at=later(clock, 120))
            app.extensions["otpgw.store"].close()
            server.stop()  # Redis and every worker are down...
            clock.advance(3600)  # ...past the batch's send_at
            server.start()
            stores = [Store.connect(settings) for _ in range(2)]
            made = [DeliveryWorker(settings, store, [FakeTransport("fake")], consumer=f"w{i}", clock=clock)
                    for i, store in enumerate(stores)]
            try:
                threads = [threading.Thread(target=drain, args=(w,)) for w in made]  # at once, on recovery
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(60)
                drain(*made)
                got = sent(*made)
            finally:
                for worker in made:
                    worker.close()
                for store in stores:
                    store.close()
            assert sorted(got) == sorted(m["id"] for m in answer["messages"])  # every one, once
            reread = create_app(settings, clock=clock)
            assert batch(reread.test_client(), answer["batch_id"])["counts"]["sent"] == 50
            reread.extensions["otpgw.store"].close()
