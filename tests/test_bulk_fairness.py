"""Codes before campaigns: a code never waits for a sending slot or a token behind bulk messages.

Workers run in threads against a local Twilio that answers slowly (a real carrier's round
trip), so every bulk slot stays busy. The assertions are about order, not speed: the
code reaches the carrier before any bulk message that was already in flight has been
answered (it did not wait for a slot), and with the transport's rate saturated by bulk,
it goes before the next bulk message (it did not wait for a token).
"""
from __future__ import annotations

import re
import threading
import time

import pytest

from otpgw.config.tables import Capacity
from otpgw.delivery.worker import DeliveryWorker
from otpgw.runtime import build_transports
from otpgw.store import Store

from conftest import PHONE
from support.carriers import TwilioCarrier
from support.flows import issue_id, poll
from support.gateway import accepted, batch, clients, numbers


class SlowTwilio(TwilioCarrier):
    """Twilio that answers after ``delay`` seconds and remembers when it answered each request."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.answered: dict[int, float] = {}  # request index -> when its answer left

    def answer(self, request):
        self.closing.wait(self.delay)
        reply = super().answer(request)
        with self._lock:
            self.answered[next(i for i, r in enumerate(self.requests) if r is request)] = time.time()
        return reply


@pytest.fixture
def gateway(make_app):
    made = []

    def build(carrier: TwilioCarrier, **capacity):
        transports = {"tw": {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID,
                             "auth_token": TwilioCarrier.AUTH_TOKEN, "from": "+15017122661", "base_url": carrier.url,
                             "read_timeout": 10, **capacity}}
        app = make_app(transports=transports, routes=[{"transports": ["tw"]}], clients=clients(),
                       worker_concurrency=8, worker_retry_base=0.05)
        settings = app.extensions["otpgw.settings"]
        worker = DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["tw"]), consumer="w1")
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        made.append((worker, stop, thread))
        return app, app.test_client(), worker, thread

    yield build
    for worker, stop, thread in made:
        stop.set()
        thread.join(15)
        worker.close()
        worker.store.close()


def is_code(request) -> bool:
    return request.form.get("To") == PHONE and re.search(r"\b\d{6}\b", request.form.get("Body", "")) is not None


class TestSlots:
    """Bulk messages hold at most their share of a worker's slots; the rest wait for codes."""

    def test_a_code_does_not_wait_for_a_slot_behind_a_campaign(self, gateway):
        with SlowTwilio(delay=1.5) as twilio:
            app, client, worker, thread = gateway(twilio)
            assert worker.bulk_slots == 6
            answer = accepted(client, numbers(60))
            thread.start()
            twilio.wait_for(lambda got: len(got) >= worker.bulk_slots, what="every bulk slot busy")
            time.sleep(0.1)
            in_flight = [i for i in range(len(twilio.requests)) if i not in twilio.answered]
            assert len(in_flight) == worker.bulk_slots  # no more bulk than its share, although 60 wait
            issue_id(client)
            got = twilio.wait_for(lambda got: any(is_code(r) for r in got), timeout=10, what="the code")
            code_at = next(r.at for r in got if is_code(r))
            first_answer = min(twilio.answered.get(i, float("inf")) for i in in_flight)
            assert code_at < first_answer  # it went before any bulk slot had freed up
            counts = batch(client, answer["batch_id"])["counts"]
            assert counts["queued"] > 0 and counts["sent"] < 60  # progress is visible while it runs


class TestLanes:
    """`otpgw worker --lane otp` and `--lane bulk` split codes and campaigns into processes of their own."""

    def test_a_worker_reads_only_the_lanes_it_is_given(self, make_app):
        from otpgw.runtime import build_worker

        app = make_app(clients=clients())
        settings = app.extensions["otpgw.settings"]
        made = [build_worker(settings, lanes=lanes) for lanes in (["otp"], ["bulk"], None)]
        try:
            assert [w.lanes for w in made] == [["otp"], ["bulk"], ["otp", "bulk"]]
            assert [w.scheduler is not None for w in made] == [False, True, True]  # the bulk readers promote
            accepted(app.test_client(), numbers(3))
            code_id = issue_id(app.test_client())
            codes_only, bulk_only, _ = made
            codes_only.run_once(block_ms=5)
            assert [m.reference for m in codes_only.transports["fake"].sent] == [code_id]
            bulk_only.run_once(block_ms=5)
            assert len(bulk_only.transports["fake"].sent) == 3 and code_id not in {
                m.reference for m in bulk_only.transports["fake"].sent}
        finally:
            for worker in made:
                worker.close()
                worker.store.close()


class TestTokens:
    """On a rate-limited transport saturated by bulk, a code takes the next token."""

    def test_bulk_leaves_a_reserve_of_tokens_to_codes(self, make_app):
        app = make_app(clients=clients())
        accepted(app.test_client(), numbers(10))
        store, now = app.extensions["otpgw.store"], 10**12
        batch_id = store.client.zrange(store.keys.schedule(), 0, 0)[0].decode()
        capacity = Capacity(rate=10, burst=5)  # a reserve of one token for codes
        verdicts = [store.gates.begin_message("tw", capacity, batch_id, i, "t" * 16, now).verdict for i in range(6)]
        assert verdicts == ["go"] * 4 + ["busy"] * 2
        code_id = issue_id(app.test_client())
        assert store.gates.begin("tw", capacity, code_id[:16], code_id, now).verdict == "go"
        assert store.gates.begin("tw", capacity, code_id[:16], code_id, now).verdict == "busy"

    def test_waiting_bulk_messages_are_given_turns_one_token_apart(self, make_app):
        app = make_app(clients=clients())
        accepted(app.test_client(), numbers(10))
        store, now = app.extensions["otpgw.store"], 10**12
        batch_id = store.client.zrange(store.keys.schedule(), 0, 0)[0].decode()
        capacity = Capacity(rate=10, burst=2)
        waits = [store.gates.begin_message("tw", capacity, batch_id, i, "t" * 16, now).wait_ms for i in range(5)]
        assert waits == [0, 100, 200, 300, 400]  # one message per token, not all at the next one

    def test_a_code_goes_before_the_next_bulk_message(self, gateway):
        with SlowTwilio(delay=0.01) as twilio:
            app, client, worker, thread = gateway(twilio, rate=4, burst=5)
            accepted(client, numbers(20))
            thread.start()
            twilio.wait_for(lambda got: len(got) >= 6, what="the bulk to use up the burst and run at the rate")
            before = len(twilio.requests)
            issue_id(client)
            got = twilio.wait_for(lambda got: any(is_code(r) for r in got), timeout=10, what="the code")
            position = next(i for i, r in enumerate(got) if is_code(r))
            assert position - before <= 1  # at most the bulk message whose turn had come (250 ms apart)
            poll(lambda: len(twilio.requests) >= 21, timeout=20, what="the rest of the batch")
            arrivals = sorted(r.at for r in twilio.requests)
            assert arrivals[-1] - arrivals[0] >= (21 - 5) / 4 * 0.95  # the rate held for all 21


class TestWaitingForTokens:
    """A bulk message that finds no token waits in its lane, not in a sending slot."""

    def test_messages_to_another_transport_keep_flowing(self, make_app):
        german = [f"+49151{n:08d}" for n in range(12340000, 12340012)]
        with TwilioCarrier() as slow, TwilioCarrier() as fast:
            def table(carrier, **capacity):
                return {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID, "from": "+15017122661",
                        "auth_token": TwilioCarrier.AUTH_TOKEN, "base_url": carrier.url, **capacity}

            app = make_app(transports={"slow": table(slow, rate=0.5, burst=2), "fast": table(fast)},
                           routes=[{"countries": ["DE"], "transports": ["slow"]}, {"transports": ["fast"]}],
                           clients=clients(), worker_concurrency=8)
            client = app.test_client()
            accepted(client, german + numbers(30))  # the rate-limited ones first
            settings = app.extensions["otpgw.settings"]
            worker = DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["slow", "fast"]))
            stop = threading.Event()
            thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
            thread.start()
            try:
                fast.wait_for(lambda got: len(got) == 30, timeout=20, what="every US message")
                slow_so_far = len(slow.requests)
                slow.wait_for(lambda got: len(got) >= 3, timeout=20, what="three German messages")
            finally:
                stop.set()
                thread.join(15)
                worker.close()
                worker.store.close()
            assert slow_so_far <= 2  # 30 went elsewhere while the rate-limited transport let two through
            gaps = [b.at - a.at for a, b in zip(slow.requests, slow.requests[1:3])]
            assert min(gaps) >= 1.9  # one per 2 s beyond the first (the rest of the burst is the codes')
