"""Delivery lanes and the router: the worker picks the transport of each attempt.

Routes send German numbers to ``a`` then ``b``, US numbers to the host-bound ``dev`` (a
modem stand-in) then ``b``, everything else to ``b``. Two workers share one Redis: one
serves the HTTP-like transports from the shared lanes, the other owns ``dev``.
"""
from __future__ import annotations

import threading
import time

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from otpgw.delivery.worker import DeliveryWorker
from otpgw.store import Store
from otpgw.transports import OutcomeUnknownError, PermanentTransportError, TemporaryTransportError
from otpgw.transports.fake import FakeDeviceTransport, FakeTransport

from conftest import PHONE, sent_code
from support.flows import delivery, issue_id, poll

GERMAN = phonenumbers.format_number(phonenumbers.example_number_for_type("DE", PhoneNumberType.MOBILE),
                                    phonenumbers.PhoneNumberFormat.E164)
FRENCH = phonenumbers.format_number(phonenumbers.example_number_for_type("FR", PhoneNumberType.MOBILE),
                                    phonenumbers.PhoneNumberFormat.E164)
TRANSPORTS = {"a": {"type": "fake"}, "b": {"type": "fake"}, "dev": {"type": "fake-device"}}
ROUTES = [{"countries": ["DE"], "transports": ["a", "b"]}, {"countries": ["US"], "transports": ["dev", "b"]},
          {"transports": ["b"]}]
BLOCK_MS = 10


@pytest.fixture
def routed_app(make_app):
    return make_app(transports=TRANSPORTS, routes=ROUTES, worker_retry_base=0.05)


@pytest.fixture
def workers(routed_app):
    """(shared-lane worker with a and b, device worker with dev), each with its own connection."""
    settings = routed_app.extensions["otpgw.settings"]
    stores = [Store.connect(settings), Store.connect(settings)]
    shared = DeliveryWorker(settings, stores[0], [FakeTransport("a"), FakeTransport("b")], consumer="http-1")
    device = DeliveryWorker(settings, stores[1], [FakeDeviceTransport("dev")], consumer="modem-1")
    yield shared, device
    for store in stores:
        store.close()


def sent(worker: DeliveryWorker, name: str) -> list[str]:
    return [m.reference for m in worker.transports[name].sent]


def run(*workers: DeliveryWorker, passes: int = 3) -> None:
    for _ in range(passes):
        for worker in workers:
            worker.run_once(block_ms=BLOCK_MS)


class TestRouting:
    """The first route whose keys match decides the transports, in order."""

    def test_german_number_goes_to_the_first_transport_of_its_route(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        code_id = issue_id(client, GERMAN)
        assert delivery(client, code_id)["transport"] == "a"  # what the route names first, before the worker
        run(shared)
        assert sent(shared, "a") == [code_id] and sent(shared, "b") == []
        assert delivery(client, code_id)["status"] == "sent"

    def test_number_without_a_specific_route_takes_the_default(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        code_id = issue_id(client, FRENCH)
        run(shared)
        assert sent(shared, "b") == [code_id]

    def test_worker_sends_the_text_the_api_sealed(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        code_id = issue_id(client, GERMAN)
        code = sent_code(routed_app, code_id)
        run(shared)
        message = shared.transports["a"].sent[0]
        assert message.destination == GERMAN and code in message.text


class TestFailover:
    """A passing failure moves on to the route's next transport at once; some never do."""

    def test_temporary_failure_fails_over_to_the_next_transport(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        shared.transports["a"].fail_next(TemporaryTransportError("a is down"))
        code_id = issue_id(client, GERMAN)
        run(shared)
        assert sent(shared, "a") == [] and sent(shared, "b") == [code_id]
        final = delivery(client, code_id)
        assert (final["status"], final["transport"]) == ("sent", "b")

    def test_permanent_failure_is_final(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        shared.transports["a"].fail_next(PermanentTransportError("unknown subscriber", code="21211"))
        code_id = issue_id(client, GERMAN)
        run(shared)
        assert shared.transports["b"].attempts == 0
        final = delivery(client, code_id)
        assert final["status"] == "failed" and final["error_code"] == "21211"

    def test_unknown_outcome_retries_on_the_same_transport(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        shared.transports["a"].fail_next(OutcomeUnknownError("no answer after the request was sent"))
        code_id = issue_id(client, GERMAN)
        run(shared)
        poll(lambda: sent(shared, "a") == [code_id], step=lambda: run(shared, passes=1), what="the pinned retry")
        assert shared.transports["b"].attempts == 0

    def test_every_transport_failing_backs_off_then_starts_the_route_again(self, routed_app, workers):
        shared, _ = workers
        client = routed_app.test_client()
        shared.transports["a"].fail_next(TemporaryTransportError("a busy"), TemporaryTransportError("a busy"))
        shared.transports["b"].fail_next(TemporaryTransportError("b busy"))
        code_id = issue_id(client, GERMAN)
        poll(lambda: delivery(client, code_id)["status"] == "sent", step=lambda: run(shared, passes=1),
             what="delivery after a round of failures")
        # a fails, b fails, back-off; a fails again, b takes it
        assert shared.transports["a"].attempts == 2 and shared.transports["b"].attempts == 2
        assert sent(shared, "b") == [code_id]


class TestHostBoundTransport:
    """A message routed to a device travels to the worker that owns it, and back on failure."""

    def test_message_for_the_device_reaches_only_its_worker(self, routed_app, workers):
        shared, device = workers
        client = routed_app.test_client()
        code_id = issue_id(client, PHONE)  # a US number: route dev, then b
        run(shared, device)
        assert sent(device, "dev") == [code_id]
        assert sent(shared, "a") == sent(shared, "b") == []
        assert delivery(client, code_id)["transport"] == "dev"

    def test_device_failure_fails_over_back_to_the_shared_workers(self, routed_app, workers):
        shared, device = workers
        client = routed_app.test_client()
        device.transports["dev"].fail_next(TemporaryTransportError("+CMS ERROR: 42"))
        code_id = issue_id(client, PHONE)
        run(shared, device, passes=4)
        assert sent(device, "dev") == [] and sent(shared, "b") == [code_id]

    def test_device_worker_never_reads_the_shared_lanes(self, routed_app, workers):
        _, device = workers
        client = routed_app.test_client()
        issue_id(client, GERMAN)
        run(device)
        assert device.lanes == ["t.dev"] and device.transports["dev"].attempts == 0


class TestStoppingWorker:
    """A stopping worker hands back what it has not started: another sends it at once."""

    class StopAfterFirst(FakeTransport):
        def __init__(self, name: str, stop: threading.Event):
            super().__init__(name)
            self.stop = stop

        def send(self, message):
            receipt = super().send(message)
            self.stop.set()
            return receipt

    def test_rest_of_the_batch_goes_out_before_any_claim_timeout(self, make_app):
        # worker_claim_idle stays 60 s, as shipped; one message at a time, so there is a rest
        app = make_app(worker_block_ms=50, worker_concurrency=1)
        settings = app.extensions["otpgw.settings"]
        client = app.test_client()
        ids = [issue_id(client, f"+1415555{n:04d}") for n in range(2700, 2704)]
        stop = threading.Event()
        stores = [Store.connect(settings), Store.connect(settings)]
        try:
            first = DeliveryWorker(settings, stores[0], self.StopAfterFirst("fake", stop), consumer="a")
            first.run(stop)
            other = FakeTransport()
            successor = DeliveryWorker(settings, stores[1], other, consumer="b")
            started = time.monotonic()
            poll(lambda: len(other.sent) == 3, step=lambda: successor.run_once(block_ms=BLOCK_MS),
                 timeout=5, what="the successor to send the handed-back messages")
            assert time.monotonic() - started < 5
        finally:
            for store in stores:
                store.close()
        assert sorted(m.reference for m in other.sent) == sorted(i for i in ids if i != first.transports[
            "fake"].sent[0].reference)


class TestRedisAway:
    """Redis going away pauses delivery; when it is back every message goes out once."""

    def test_delivery_pauses_and_resumes_without_loss_or_duplicates(self, make_settings, threads):
        import signal

        from otpgw import create_app

        from conftest import RedisServer

        with RedisServer() as server:
            settings = make_settings(redis_url=server.url, worker_block_ms=50, redis_timeout=0.2)
            app = create_app(settings)
            client = app.test_client()
            ids = [issue_id(client, f"+1415555{2500 + n:04d}") for n in range(10)]
            fake = FakeTransport()
            worker = DeliveryWorker(settings, Store.connect(settings, blocking_ms=50), fake)
            server.proc.send_signal(signal.SIGSTOP)  # Redis hangs: no answer, no data lost
            try:
                thread, stop = threads(worker.run)
                time.sleep(1.0)
                assert fake.attempts == 0 and thread.is_alive()
            finally:
                server.proc.send_signal(signal.SIGCONT)
            poll(lambda: len(fake.sent) == 10, timeout=15, what="delivery after Redis came back")
            time.sleep(0.5)
            stop.set()
            thread.join(10)
            worker.close()
            worker.store.close()
            app.extensions["otpgw.store"].close()
            assert sorted(m.reference for m in fake.sent) == sorted(ids)  # each exactly once
