"""Webhooks out: events written by the scripts, POSTed signed to a real local endpoint, retried, dropped."""
from __future__ import annotations

import os
import sys
import time

import pytest

from otpgw.client import WebhookSignatureError, verify_webhook
from otpgw.events.webhooks import sign, verify_signature
from otpgw.otp.webhooks import webhook_dispatcher

from conftest import PHONE, SECRET, ChildProcess, send, sent_code, verify
from support.flows import issue_id, poll, wrong
from support.webhook_receiver import WebhookReceiver

HOOK_KEY = "hook-client-key-0123456789"
HOOK_SECRET = "hook-secret-0123456789abcdef"
HOOK = {"Authorization": f"Bearer {HOOK_KEY}"}


@pytest.fixture
def receiver():
    endpoint = WebhookReceiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def hooked(make_app, receiver, clock):
    """An app whose client 'shop' has a webhook at the receiver, and a dispatcher on the same store."""
    made = []

    def build(**overrides):
        app = make_app(clock=clock, webhook_retry_base=10, webhook_retry_max=3600, webhook_max_age=600,
                       clients={"shop": {"keys": [HOOK_KEY], "webhook_url": receiver.url,
                                         "webhook_secret": HOOK_SECRET}}, **overrides)
        dispatcher = webhook_dispatcher(app.extensions["otpgw.settings"], app.extensions["otpgw.store"], clock=clock)
        made.append(dispatcher)
        return app, app.test_client(), dispatcher

    yield build
    for dispatcher in made:
        dispatcher.close()


def outbox_length(app) -> int:
    return app.extensions["otpgw.store"].outbox.pending()


class TestEvents:
    """A code's changes reach its client's endpoint, signed, without phone or code."""

    def test_an_approval_is_posted_signed_to_the_clients_url(self, hooked, receiver, clock):
        app, client, dispatcher = hooked()
        code_id = issue_id(client, headers=HOOK)
        code = sent_code(app, code_id)
        assert verify(client, headers=HOOK, id=code_id, code=code).get_json()["valid"]
        assert dispatcher.run_once() == 1
        (got,) = receiver.delivered()
        event = verify_webhook(got.body, got.headers["Otpgw-Signature"], HOOK_SECRET, now=clock.now)
        assert event["type"] == "code.approved" and got.headers["Otpgw-Event-Type"] == "code.approved"
        assert event["data"] == {"code_id": code_id, "client": "shop", "status": "approved", "reason": "approved"}
        assert got.headers["Otpgw-Event-Id"] == event["id"]
        assert PHONE[1:] not in got.body.decode() and code not in got.body.decode()
        assert outbox_length(app) == 0

    def test_max_attempts_and_a_lockout_are_events(self, hooked, receiver):
        app, client, dispatcher = hooked(max_attempts=2, lockout_threshold=2)
        code_id = issue_id(client, headers=HOOK)
        code = sent_code(app, code_id)
        verify(client, headers=HOOK, id=code_id, code=wrong(code))
        assert verify(client, headers=HOOK, id=code_id, code=wrong(code)).status_code == 423
        dispatcher.run_once()
        events = sorted((r.event for r in receiver.delivered()), key=lambda e: tuple(map(int, e["id"].split("-"))))
        assert [e["type"] for e in events] == ["code.max_attempts", "code.locked"]  # arrival order may differ
        assert events[1]["data"]["reason"] == "phone" and events[1]["data"]["status"] == "max_attempts"

    def test_codes_of_a_client_without_a_webhook_emit_nothing(self, hooked, receiver):
        app, client, dispatcher = hooked()
        code_id = issue_id(client)  # the conftest client "app" has no webhook
        verify(client, id=code_id, code=sent_code(app, code_id))
        assert outbox_length(app) == 0 and dispatcher.run_once() == 0 and receiver.received == []

    def test_a_delivery_report_is_posted_once_and_a_repeat_not_at_all(self, hooked, receiver):
        """record_delivery (a carrier's report) emits the change; a repeated report changes nothing."""
        from otpgw.domain.outcomes import DeliveryStatus
        from otpgw.domain.sms import DeliveryReport

        app, client, dispatcher = hooked()
        store = app.extensions["otpgw.store"]
        code_id = issue_id(client, headers=HOOK)
        report = DeliveryReport(reference=code_id, status=DeliveryStatus.DELIVERED, transport="fake")
        assert store.codes.record_delivery(code_id[:16], code_id, report, int(time.time() * 1000))
        assert not store.codes.record_delivery(code_id[:16], code_id, report, int(time.time() * 1000))
        dispatcher.run_once()
        (got,) = receiver.delivered()
        assert got.event["type"] == "delivery.delivered" and got.event["data"]["status"] == "delivered"


class TestRetries:
    """A failed POST is retried with back-off until the event is max_age old, then dropped."""

    def test_a_failing_endpoint_gets_the_same_event_again_after_the_back_off(self, hooked, receiver, clock):
        app, client, dispatcher = hooked()
        receiver.fail_next(500, 503)
        code_id = issue_id(client, headers=HOOK)
        verify(client, headers=HOOK, id=code_id, code=sent_code(app, code_id))
        dispatcher.run_once()
        dispatcher.run_once()  # nothing is due yet
        assert [r.status for r in receiver.received] == [500]
        clock.advance(10)  # retry_base
        dispatcher.run_once()
        clock.advance(19)  # the second back-off is 20 s: not yet
        dispatcher.run_once()
        clock.advance(1)
        dispatcher.run_once()
        assert [r.status for r in receiver.received] == [500, 503, 200]
        assert len({r.headers["Otpgw-Event-Id"] for r in receiver.received}) == 1
        assert outbox_length(app) == 0

    def test_an_unreachable_endpoint_is_retried_too(self, hooked, receiver, clock):
        app, client, dispatcher = hooked()
        receiver.close()  # connection refused from now on
        code_id = issue_id(client, headers=HOOK)
        verify(client, headers=HOOK, id=code_id, code=sent_code(app, code_id))
        assert dispatcher.run_once() == 1
        assert outbox_length(app) == 1  # kept for the retry
        assert app.extensions["otpgw.store"].outbox.due(int((clock.now + 10) * 1000), 1000, 10)  # due after 10 s

    def test_an_event_is_dropped_when_it_is_too_old_to_retry(self, hooked, receiver, clock, caplog):
        app, client, dispatcher = hooked()
        receiver.fail_next(*[500] * 20)
        code_id = issue_id(client, headers=HOOK)
        verify(client, headers=HOOK, id=code_id, code=sent_code(app, code_id))
        for _ in range(12):
            dispatcher.run_once()
            clock.advance(80)
        assert outbox_length(app) == 0
        attempts = len(receiver.received)
        assert 4 <= attempts <= 7  # 10, 20, 40, 80, 160, 320 s of back-off fit in 600 s
        assert any("given up after" in r.getMessage() for r in caplog.records)

    def test_an_event_a_dead_dispatcher_had_read_is_delivered_by_another(self, hooked, receiver, clock):
        app, client, dispatcher = hooked()
        code_id = issue_id(client, headers=HOOK)
        verify(client, headers=HOOK, id=code_id, code=sent_code(app, code_id))
        store = app.extensions["otpgw.store"]
        assert len(store.outbox.read("dead-dispatcher", 10)) == 1  # read, never settled
        assert dispatcher.run_once() == 0  # not new any more, and not idle long enough to claim
        dispatcher.CLAIM_IDLE_MS, dispatcher._next_claim = 0, 0.0
        assert dispatcher.run_once() == 1
        assert [r.event["data"]["code_id"] for r in receiver.delivered()] == [code_id]


class TestSignature:
    """The signature covers timestamp and body; any change, or age, makes it fail."""

    BODY = b'{"id":"1-0","type":"code.approved"}'

    def test_a_signature_verifies_with_the_server_and_the_client_helper(self):
        header = sign(HOOK_SECRET, self.BODY, 1_700_000_000)
        verify_signature(HOOK_SECRET, self.BODY, header, now=1_700_000_010)
        assert verify_webhook(self.BODY, header, HOOK_SECRET, now=1_700_000_010)["type"] == "code.approved"

    @pytest.mark.parametrize(("body", "secret", "now"), [
        (BODY + b" ", HOOK_SECRET, 1_700_000_000), (BODY, "another-secret-0123456789", 1_700_000_000),
        (BODY, HOOK_SECRET, 1_700_000_301)])
    def test_a_changed_body_another_secret_or_an_old_timestamp_fails(self, body, secret, now):
        header = sign(HOOK_SECRET, self.BODY, 1_700_000_000)
        with pytest.raises(WebhookSignatureError):
            verify_webhook(body, header, secret, now=now)

    @pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=00", "t=1700000000"])
    def test_a_missing_or_malformed_header_fails(self, header):
        with pytest.raises(WebhookSignatureError):
            verify_webhook(self.BODY, header, HOOK_SECRET, now=1_700_000_000)


@pytest.mark.slow
class TestWorkerProcess:
    """``otpgw worker`` runs the dispatcher: an approval made through the API reaches the endpoint."""

    def test_the_worker_posts_the_event(self, tmp_path, redis_server, redis_client, receiver, make_settings):
        config = tmp_path / "otpgw.toml"
        config.write_text(f'[clients.shop]\nkeys = ["{HOOK_KEY}"]\nwebhook_url = "{receiver.url}"\n'
                          f'webhook_secret = "${{HOOK_SECRET}}"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
        env.update(PYTHONUNBUFFERED="1", OTPGW_CONFIG=str(config), HOOK_SECRET=HOOK_SECRET, OTPGW_SECRET_KEYS=SECRET,
                   OTPGW_REDIS_URL=redis_server.url, OTPGW_TRANSPORT="fake", OTPGW_WORKER_HEALTH_PORT="0",
                   OTPGW_WORKER_BLOCK_MS="200")
        worker = ChildProcess([sys.executable, "-m", "otpgw.cli", "worker"], env)
        try:
            from otpgw import create_app

            app = create_app(make_settings(clients={"shop": {"keys": [HOOK_KEY], "webhook_url": receiver.url,
                                                             "webhook_secret": HOOK_SECRET}}))
            client = app.test_client()
            code_id = issue_id(client, headers=HOOK)
            assert send(client, headers=HOOK).status_code == 429  # the API is the real one
            verify(client, headers=HOOK, id=code_id, code=sent_code(app, code_id))
            poll(lambda: receiver.delivered(), timeout=20, what="the worker to post the webhook")
            event = verify_webhook(receiver.delivered()[0].body, receiver.delivered()[0].headers["Otpgw-Signature"],
                                   HOOK_SECRET)
            assert event["data"]["code_id"] == code_id
        finally:
            worker.stop()
