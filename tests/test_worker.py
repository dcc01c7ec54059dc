"""The delivery worker against the private redis-server, with the packaged FakeTransport.

Each test sends codes through the real API (Flask test client), runs one or more
``DeliveryWorker`` objects over the same Redis, and reads the outcome the way a caller
does: what reached the transport and what ``GET /otp/<id>`` says about delivery.
"""
from __future__ import annotations

import io
import logging
import threading
import time

import pytest

from otpgw.config import SettingsError
from otpgw.delivery.worker import DeliveryWorker
from otpgw.domain.codes import tag_of
from otpgw.domain.outcomes import DeliveryStatus
from otpgw.domain.phones import mask
from otpgw.domain.sms import DeliveryReport
from otpgw.runtime import build_worker
from otpgw.store import Store
from otpgw.transports import (
    Message,
    PermanentTransportError,
    Receipt,
    TemporaryTransportError,
    transport_class,
)
from otpgw.transports.console import ConsoleTransport
from otpgw.transports.fake import FakeTransport

from conftest import AUTH, PHONE, sent_code
from support.flows import delivery, issue_id, poll

PHONES = [f"+1415555{n:04d}" for n in range(2600, 2640)]
BLOCK_MS = 10  # the shortest blocking read the settings allow; keeps polling loops quick


def report(status: str, transport: str = "") -> DeliveryReport:
    return DeliveryReport(transport=transport, status=DeliveryStatus(status))


@pytest.fixture
def fake():
    return FakeTransport()


@pytest.fixture
def make_worker():
    """Build a worker over the app's settings, with its own Redis connection (a process of its own)."""
    stores: list[Store] = []

    def build(app, transport, *, clock=time.time, consumer=None) -> DeliveryWorker:
        settings = app.extensions["otpgw.settings"]
        store = Store.connect(settings)
        stores.append(store)
        return DeliveryWorker(settings, store, transport, clock=clock, consumer=consumer)

    yield build
    for store in stores:
        store.client.close()


class TestDelivery:
    """A queued code's message reaches the transport once, and its status says so."""

    def test_sent_code_reaches_transport_with_destination_and_code(self, make_app, make_worker, fake):
        app = make_app()
        client = app.test_client()
        code_id = issue_id(client)
        code = sent_code(app, code_id)
        assert delivery(client, code_id)["status"] == "queued"

        assert make_worker(app, fake).run_once(block_ms=BLOCK_MS) == 1

        assert len(fake.sent) == 1
        message = fake.sent[0]
        assert message.destination == PHONE
        assert code in message.text
        assert message.reference == code_id
        status = delivery(client, code_id)
        assert status["status"] == "sent"
        assert status["transport"] == "fake"
        assert status["carrier_ids"] == ["fake-1"]

    def test_run_once_on_an_empty_queue_returns_at_once(self, make_app, make_worker, fake):
        """``run_once()`` (block_ms=0) is one pass; it must not wait for traffic or fail on a quiet queue."""
        worker = make_worker(make_app(), fake)
        assert worker.run_once() == 0

    def test_each_message_of_a_batch_is_delivered_once(self, make_app, make_worker, fake):
        app = make_app()
        client = app.test_client()
        ids = [issue_id(client, phone) for phone in PHONES[:3]]
        worker = make_worker(app, fake)
        poll(lambda: len(fake.sent) >= 3, step=lambda: worker.run_once(block_ms=BLOCK_MS), what="3 deliveries")
        worker.run_once(block_ms=BLOCK_MS)
        assert sorted(m.reference for m in fake.sent) == sorted(ids)
        assert [delivery(client, i)["status"] for i in ids] == ["sent"] * 3


class TestRetries:
    """Passing failures are retried after back-off, bounded by max retries and the code's life."""

    def test_temporary_failure_is_retried_after_backoff_then_sent(self, make_app, make_worker, fake, clock):
        app = make_app(worker_retry_base=0.05)
        client = app.test_client()
        code_id = issue_id(client)
        fake.fail_next(TemporaryTransportError("carrier busy"))
        worker = make_worker(app, fake, clock=clock)

        assert worker.run_once(block_ms=BLOCK_MS) == 1
        assert fake.sent == [] and fake.attempts == 1
        waiting = delivery(client, code_id)
        assert waiting["status"] == "queued"
        assert "carrier busy" in waiting["detail"]

        worker.run_once(block_ms=BLOCK_MS)  # the back-off has not passed yet
        assert fake.attempts == 1

        clock.advance(0.06)
        worker.run_once(block_ms=BLOCK_MS)
        assert fake.attempts == 2
        assert [m.reference for m in fake.sent] == [code_id]
        assert delivery(client, code_id)["status"] == "sent"

    def test_retries_stop_at_max_retries_and_the_message_fails(self, make_app, make_worker, fake, clock):
        app = make_app(worker_retry_base=0.05, worker_max_retries=2)
        client = app.test_client()
        code_id = issue_id(client)
        fake.fail_next(*[TemporaryTransportError("carrier busy") for _ in range(10)])
        worker = make_worker(app, fake, clock=clock)

        def step():
            worker.run_once(block_ms=BLOCK_MS)
            clock.advance(1.0)

        poll(lambda: delivery(client, code_id)["status"] == "failed", step=step, what="delivery failed")
        for _ in range(3):
            step()
        assert fake.attempts == 3  # the first attempt and two retries
        assert fake.sent == []
        final = delivery(client, code_id)
        assert final["status"] == "failed"
        assert "attempt 3" in final["detail"] and "carrier busy" in final["detail"]

    def test_permanent_failure_is_not_retried(self, make_app, make_worker, fake, clock):
        app = make_app(worker_retry_base=0.05)
        client = app.test_client()
        code_id = issue_id(client)
        fake.fail_next(PermanentTransportError("unknown subscriber"))
        worker = make_worker(app, fake, clock=clock)

        worker.run_once(block_ms=BLOCK_MS)
        for _ in range(3):
            clock.advance(5)
            worker.run_once(block_ms=BLOCK_MS)

        assert fake.attempts == 1
        assert fake.sent == []
        final = delivery(client, code_id)
        assert final["status"] == "failed"
        assert "unknown subscriber" in final["detail"]

    def test_code_expired_before_delivery_is_never_sent(self, make_app, make_worker, fake, clock):
        app = make_app()
        client = app.test_client()
        code_id = issue_id(client, ttl=60)
        clock.advance(61)

        make_worker(app, fake, clock=clock).run_once(block_ms=BLOCK_MS)

        assert fake.attempts == 0
        final = delivery(client, code_id)
        assert final["status"] == "failed"
        assert "expired" in final["detail"]

    def test_retry_that_would_land_after_the_deadline_fails_instead(self, make_app, make_worker, fake, clock):
        app = make_app(worker_retry_base=100, worker_max_retries=5)
        client = app.test_client()
        code_id = issue_id(client, ttl=250)  # first retry at +100 s fits; the second (+200 s more) does not
        fake.fail_next(*[TemporaryTransportError("carrier busy") for _ in range(3)])
        worker = make_worker(app, fake, clock=clock)

        worker.run_once(block_ms=BLOCK_MS)
        assert fake.attempts == 1 and delivery(client, code_id)["status"] == "queued"
        clock.advance(100.5)
        worker.run_once(block_ms=BLOCK_MS)
        assert fake.attempts == 2
        failed = delivery(client, code_id)
        assert failed["status"] == "failed"
        assert "expire" in failed["detail"]

        fake.fail_next()  # nothing queued: a late attempt would succeed
        for _ in range(3):
            clock.advance(100)
            worker.run_once(block_ms=BLOCK_MS)
        assert fake.attempts == 2 and fake.sent == []
        assert delivery(client, code_id)["status"] == "failed"

    def test_unexpected_transport_exception_keeps_the_worker_alive_and_retries(
            self, make_app, make_worker, fake, threads):
        app = make_app(worker_retry_base=0.05, worker_block_ms=50)
        client = app.test_client()
        code_id = issue_id(client)
        fake.fail_next(RuntimeError("driver bug"))  # not a TransportError: a transport bug
        worker = make_worker(app, fake)
        thread, _ = threads(worker.run)

        poll(lambda: delivery(client, code_id)["status"] == "sent", what="the retried message to be sent")
        assert thread.is_alive()
        assert fake.attempts == 2 and len(fake.sent) == 1

        second = issue_id(client, PHONES[0])  # and it keeps working afterwards
        poll(lambda: len(fake.sent) == 2, what="a later message to be sent")
        assert fake.sent[1].reference == second


class TestCrashRecovery:
    """A message a worker took and never finished is delivered by another, exactly once."""

    def test_crashed_workers_pending_message_is_claimed_by_another(self, make_app, make_worker):
        app = make_app(worker_claim_idle=1)
        client = app.test_client()
        code_id = issue_id(client)
        crashed = make_worker(app, FakeTransport(), consumer="worker-a")
        crashed.store.queue.prepare("otp", crashed.now_ms())
        taken = crashed.store.queue.read(crashed.lanes, "worker-a", 10, BLOCK_MS)
        assert [m.reference for m in taken] == [code_id]  # worker A holds it, then "dies"

        survivor_transport = FakeTransport()
        survivor = make_worker(app, survivor_transport, consumer="worker-b")
        survivor.run_once(block_ms=BLOCK_MS)
        assert survivor_transport.sent == []  # not idle long enough yet: A may still be working

        time.sleep(1.1)
        poll(lambda: len(survivor_transport.sent) >= 1, step=lambda: survivor.run_once(block_ms=BLOCK_MS),
             what="worker B to claim the orphan")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:  # keep working: the message must not come round again
            survivor.run_once(block_ms=BLOCK_MS)
            time.sleep(0.05)
        assert [m.reference for m in survivor_transport.sent] == [code_id]
        assert delivery(client, code_id)["status"] == "sent"

    def test_two_workers_never_send_the_same_message(self, make_app, make_worker):
        app = make_app()
        client = app.test_client()
        ids = [issue_id(client, phone) for phone in PHONES[:20]]
        transports = [FakeTransport(), FakeTransport()]
        workers = [make_worker(app, t, consumer=f"worker-{n}") for n, t in enumerate(transports)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(worker: DeliveryWorker) -> None:
            try:
                start.wait(5)
                deadline = time.monotonic() + 10
                while sum(len(t.sent) for t in transports) < 20 and time.monotonic() < deadline:
                    worker.run_once(block_ms=BLOCK_MS)
                for _ in range(3):
                    worker.run_once(block_ms=BLOCK_MS)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(w,)) for w in workers]
        for t in pool:
            t.start()
        for t in pool:
            t.join(20)
        assert not errors, errors
        sent = [m.reference for t in transports for m in t.sent]
        assert sorted(sent) == sorted(ids)  # every message, each exactly once
        assert {delivery(client, i)["status"] for i in ids} == {"sent"}


class TestGracefulStop:
    """Stopping mid-batch finishes the message in hand and leaves the rest pending, not lost."""

    class StopAfterFirst(FakeTransport):
        """Sets the worker's stop event from inside the first send, as SIGTERM would."""

        def __init__(self, stop: threading.Event):
            super().__init__()
            self.stop = stop

        def send(self, message: Message) -> Receipt:
            receipt = super().send(message)
            self.stop.set()
            return receipt

    def test_stop_mid_batch_leaves_the_rest_for_another_worker(self, make_app, make_worker, threads):
        app = make_app(worker_claim_idle=1, worker_block_ms=50, worker_concurrency=1)
        client = app.test_client()
        ids = [issue_id(client, phone) for phone in PHONES[:4]]
        stop = threading.Event()
        stopping = self.StopAfterFirst(stop)
        worker = make_worker(app, stopping, consumer="worker-a")

        thread, _ = threads(worker.run, stop)
        thread.join(10)
        assert not thread.is_alive(), "run(stop) did not return after stop was set"
        assert len(stopping.sent) == 1
        first = stopping.sent[0].reference
        left = [i for i in ids if i != first]
        assert [delivery(client, i)["status"] for i in left] == ["queued"] * 3

        other = FakeTransport()
        successor = make_worker(app, other, consumer="worker-b")
        time.sleep(1.1)
        poll(lambda: len(other.sent) >= 3, step=lambda: successor.run_once(block_ms=BLOCK_MS),
             what="the successor to deliver what was left")
        successor.run_once(block_ms=BLOCK_MS)
        assert sorted(m.reference for m in other.sent) == sorted(left)
        assert {delivery(client, i)["status"] for i in ids} == {"sent"}


class TestQueueRecovery:
    """A stream (and so its consumer group) that disappeared is recreated; new codes still go out."""

    def test_deleted_stream_is_recovered(self, make_app, make_worker, fake, redis_client):
        app = make_app()
        client = app.test_client()
        worker = make_worker(app, fake)
        first = issue_id(client, PHONES[0])
        worker.run_once(block_ms=BLOCK_MS)
        assert [m.reference for m in fake.sent] == [first]

        redis_client.delete(worker.store.keys.lane("otp"))
        second = issue_id(client, PHONES[1])  # XADD recreates the stream, without the group

        def step():
            try:
                worker.run_once(block_ms=BLOCK_MS)
            except Exception as exc:  # noqa: BLE001 - the failure message names it
                raise AssertionError(f"worker failed on a stream without its group: {exc!r}") from exc

        poll(lambda: len(fake.sent) == 2, step=step, what="delivery after the stream was deleted")
        assert fake.sent[1].reference == second
        assert delivery(client, second)["status"] == "sent"

    def test_run_recovers_when_the_stream_disappears_while_running(self, make_app, make_worker, fake,
                                                                   redis_client, threads):
        app = make_app(worker_block_ms=50)
        client = app.test_client()
        worker = make_worker(app, fake)
        thread, _ = threads(worker.run)
        issue_id(client, PHONES[0])
        poll(lambda: len(fake.sent) == 1, what="first delivery")

        redis_client.delete(worker.store.keys.lane("otp"))
        second = issue_id(client, PHONES[1])
        poll(lambda: len(fake.sent) == 2, what="delivery after the stream was deleted")
        assert thread.is_alive()
        assert fake.sent[1].reference == second


class TestCanceledCode:
    """A code canceled before its message left is dead: sending it would only confuse the user."""

    def test_code_canceled_before_delivery_is_not_sent(self, make_app, make_worker, fake):
        app = make_app()
        client = app.test_client()
        code_id = issue_id(client)
        assert client.post(f"/otp/{code_id}/cancel", headers=AUTH).status_code == 200

        make_worker(app, fake).run_once(block_ms=BLOCK_MS)

        assert fake.attempts == 0
        assert delivery(client, code_id)["status"] == "failed"


class TestIdleWorker:
    """With default settings an idle worker waits for traffic quietly, then delivers at once."""

    @pytest.mark.slow  # waits out a whole blocking read
    def test_idle_worker_on_healthy_redis_reports_no_outage(self, make_app, make_settings, threads, caplog):
        settings = make_settings()  # worker_block_ms=2000, redis_timeout=0.5: the shipped defaults
        worker = build_worker(settings)
        caplog.set_level(logging.WARNING)
        thread, stop = threads(worker.run)
        try:
            time.sleep(2.5)  # longer than one blocking read
            client = make_app().test_client()
            code_id = issue_id(client)
            poll(lambda: len(worker.transports["fake"].sent) == 1, what="delivery by the idle worker")
        finally:
            stop.set()
            thread.join(15)
            worker.store.client.close()
        assert worker.transports["fake"].sent[0].reference == code_id
        outages = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
        assert outages == [], f"an idle worker reported Redis down although it was up: {outages}"


class TestConsoleTransport:
    """The console transport shows a masked number and the whole text, for a developer."""

    def test_prints_masked_number_and_text(self):
        out = io.StringIO()
        transport = ConsoleTransport(stream=out)
        ids = transport.send(Message(PHONE, "482913 is your otpgw code.", "ref-1",
                                     int(time.time() * 1000) + 60000)).carrier_ids
        printed = out.getvalue()
        assert mask(PHONE) in printed
        assert PHONE not in printed
        assert "482913 is your otpgw code." in printed
        assert len(ids) == 1 and ids[0]
        second = transport.send(Message(PHONE, "other", "ref-2", 0)).carrier_ids
        assert second != ids  # every message gets its own carrier id

    def test_worker_delivers_through_console(self, make_app, make_worker):
        app = make_app(transport="console")
        client = app.test_client()
        code_id = issue_id(client)
        code = sent_code(app, code_id)
        out = io.StringIO()
        make_worker(app, ConsoleTransport(stream=out)).run_once(block_ms=BLOCK_MS)
        printed = out.getvalue()
        assert code in printed
        assert mask(PHONE) in printed and PHONE not in printed
        assert delivery(client, code_id) | {"updated_at": ""} == {
            "status": "sent", "transport": "console", "carrier_ids": ["console-1"], "updated_at": ""}


class TestTransportRegistry:
    """Transports are chosen by name; an unknown name stops the start with a suggestion."""

    @pytest.mark.parametrize(("name", "cls"), [("console", ConsoleTransport), ("fake", FakeTransport)])
    def test_known_names(self, name, cls):
        assert transport_class(name) is cls

    def test_unknown_name_suggests_the_closest(self):
        with pytest.raises(SettingsError, match="did you mean 'console'"):
            transport_class("consle")

    def test_unknown_name_without_a_close_match_lists_the_known(self):
        with pytest.raises(SettingsError, match="known: console, fake"):
            transport_class("pigeon")

    def test_worker_for_unknown_transport_fails_at_start(self, make_settings):
        with pytest.raises(SettingsError, match="OTPGW_TRANSPORT"):
            build_worker(make_settings(transport="smpp-nowhere"))


class TestDeliveryStatusOrder:
    """Delivery status only moves forward: a late or repeated event is ignored."""

    def test_sent_after_delivered_is_ignored(self, app, client, service, store):
        code_id = issue_id(client)
        codes, tag, now = store.codes, tag_of(code_id), service.now_ms()
        assert codes.record_delivery(tag, code_id, report("sent", transport="fake"), now, carrier_ids=("c-1",))
        assert codes.record_delivery(tag, code_id, report("delivered"), now + 1)
        assert not codes.record_delivery(tag, code_id, report("sent"), now + 2)
        assert not codes.record_delivery(tag, code_id, report("delivered"), now + 3)  # a repeated report
        assert not codes.record_delivery(tag, code_id, report("queued"), now + 4)
        status = delivery(client, code_id)
        assert status["status"] == "delivered"
        assert status["carrier_ids"] == ["c-1"]

    def test_worker_outcome_after_an_early_delivery_report_keeps_delivered(
            self, app, client, service, store, make_worker, fake):
        code_id = issue_id(client)
        store.codes.record_delivery(tag_of(code_id), code_id, report("delivered"), service.now_ms())
        make_worker(app, fake).run_once(block_ms=BLOCK_MS)
        assert len(fake.sent) == 1
        assert delivery(client, code_id)["status"] == "delivered"

    def test_report_for_an_unknown_code_is_ignored(self, service, store):
        assert not store.codes.record_delivery("a" * 16, "a" * 32, report("delivered"), service.now_ms())
