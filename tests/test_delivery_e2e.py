"""A code's whole journey through HTTP carriers: API, lane, worker, carrier, callback, status.

Local carriers play Twilio and Vonage by their documentation (tests/support/carriers.py);
their callbacks are signed with the carriers' own SDKs and posted to the API's callback
view. Routes put Twilio first and Vonage behind it, so fail-over, breakers and pauses
are seen the way a caller sees them: what reached which carrier, and ``GET /otp/<id>``.
"""
from __future__ import annotations

import dataclasses
import re
import time

import pytest

from otpgw.delivery.worker import DeliveryWorker
from otpgw.runtime import build_transports
from otpgw.store import Store

from conftest import AUTH, PHONE, send
from support.carriers import Fault, TwilioCarrier, VonageCarrier
from support.flows import delivery, error, issue_id, poll

PUBLIC_URL = "https://otp.example.com"
GERMAN = "+4915123456789"


@pytest.fixture
def twilio():
    with TwilioCarrier() as carrier:
        yield carrier


@pytest.fixture
def vonage():
    with VonageCarrier() as carrier:
        yield carrier


@pytest.fixture
def carrier_app(make_app, twilio, vonage):
    """An app whose route is Twilio, then Vonage; short timeouts; breaker after 2 failures."""
    def build(**overrides):
        transports = {
            "tw": {"type": "twilio", "account_sid": TwilioCarrier.ACCOUNT_SID, "auth_token": TwilioCarrier.AUTH_TOKEN,
                   "from": "+15017122661", "base_url": twilio.url, "read_timeout": 1, "breaker_failures": 2,
                   "breaker_cooldown": 30},
            "vn": {"type": "vonage", "api_key": VonageCarrier.API_KEY, "api_secret": VonageCarrier.API_SECRET,
                   "signature_secret": VonageCarrier.SIGNATURE_SECRET, "signature_method": "sha256",
                   "from": "Acme", "base_url": vonage.url},
        }
        return make_app(transports=transports, routes=[{"transports": ["tw", "vn"]}], public_url=PUBLIC_URL,
                        worker_retry_base=0.05, **overrides)

    return build


@pytest.fixture
def workers(carrier_app):
    """Workers over the app's settings, each with its own connection and transports."""
    made = []

    def build(app, consumer: str = "w1") -> DeliveryWorker:
        settings = app.extensions["otpgw.settings"]
        store = Store.connect(settings)
        worker = DeliveryWorker(settings, store, build_transports(settings, ["tw", "vn"]), consumer=consumer)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.close()
        worker.store.close()


def run(worker: DeliveryWorker, passes: int = 3) -> None:
    for _ in range(passes):
        worker.run_once(block_ms=10)


def code_in(text: str) -> str:
    return re.search(r"\b\d{6}\b", text).group(0)


class TestTwilio:
    """A code reaches Twilio in its documented shape, and Twilio's signed reports update it."""

    def test_code_reaches_twilio_and_its_report_marks_it_delivered(self, carrier_app, workers, twilio):
        app = carrier_app()
        client = app.test_client()
        code_id = issue_id(client)
        run(workers(app))
        request = twilio.last
        assert request.path == f"/2010-04-01/Accounts/{TwilioCarrier.ACCOUNT_SID}/Messages.json"
        assert request.form["To"] == PHONE and request.form["From"] == "+15017122661"
        assert request.form["StatusCallback"] == f"{PUBLIC_URL}/callbacks/tw/status?ref={code_id}"
        assert 0 < int(request.form["ValidityPeriod"]) <= 300
        sid = twilio.messages[-1]["sid"]
        assert delivery(client, code_id) | {"updated_at": ""} == {
            "status": "sent", "transport": "tw", "carrier_ids": [sid], "updated_at": ""}

        status, _ = twilio.status_callback(sid, "delivered").fire(client)
        assert status == 200
        assert delivery(client, code_id)["status"] == "delivered"

    def test_the_code_in_the_sms_verifies(self, carrier_app, workers, twilio):
        app = carrier_app()
        client = app.test_client()
        code_id = issue_id(client)
        run(workers(app))
        code = code_in(twilio.last.form["Body"])
        reply = client.post("/otp/verify", json={"id": code_id, "code": code}, headers=AUTH)
        assert reply.get_json()["valid"] is True

    def test_undelivered_report_shows_twilios_error_code(self, carrier_app, workers, twilio):
        app = carrier_app()
        client = app.test_client()
        code_id = issue_id(client)
        run(workers(app))
        twilio.status_callback(twilio.messages[-1]["sid"], "undelivered", error_code="30003").fire(client)
        shown = delivery(client, code_id)
        assert (shown["status"], shown["error_code"]) == ("undelivered", "30003")

    @pytest.mark.parametrize("forgery", ["wrong token", "other url", "no signature"])
    def test_forged_report_is_403_and_changes_nothing(self, carrier_app, workers, twilio, forgery):
        app = carrier_app()
        client = app.test_client()
        code_id = issue_id(client)
        run(workers(app))
        sid = twilio.messages[-1]["sid"]
        if forgery == "wrong token":
            callback = twilio.status_callback(sid, "delivered", token="not-the-auth-token")
        elif forgery == "other url":
            signed = twilio.status_callback(sid, "delivered", url=f"{PUBLIC_URL}/callbacks/tw/status?ref={'b' * 32}")
            callback = dataclasses.replace(signed, url=signed.url.replace("b" * 32, code_id))  # tampered
        else:
            callback = dataclasses.replace(twilio.status_callback(sid, "delivered"), headers={})
        status, body = callback.fire(client)
        assert status == 403 and '"forbidden"' in body
        assert delivery(client, code_id)["status"] == "sent"

    def test_late_and_repeated_reports_never_move_the_status_back(self, carrier_app, workers, twilio):
        app = carrier_app()
        client = app.test_client()
        code_id = issue_id(client)
        run(workers(app))
        sid = twilio.messages[-1]["sid"]
        for status in ("delivered", "sent", "queued", "delivered"):
            assert twilio.status_callback(sid, status).fire(client)[0] == 200
        assert delivery(client, code_id)["status"] == "delivered"

    def test_inbound_stop_opts_the_sender_out_and_start_back_in(self, carrier_app, twilio):
        client = carrier_app().test_client()
        url = f"{PUBLIC_URL}/callbacks/tw/inbound"
        status, body = twilio.inbound(url, PHONE, "STOP").fire(client)
        assert status == 200 and "<Response" in body
        assert error(send(client)) == (403, "opted_out")
        twilio.inbound(url, PHONE, "start").fire(client)
        assert send(client).status_code == 202


class TestVonage:
    """Vonage reports per part: a message is delivered when every part is."""

    def test_multipart_message_is_delivered_when_every_part_is(self, carrier_app, workers, twilio, vonage):
        app = carrier_app(brand="Zweifaktorauthentifizierungsdienst der Beispiel-Gesellschaft", default_locale="ru")
        client = app.test_client()
        twilio.fail_next(Fault.server_error(503))  # fail over to Vonage
        code_id = issue_id(client)
        run(workers(app))
        shown = delivery(client, code_id)
        assert shown["transport"] == "vn" and shown["parts"] == 2 and len(shown["carrier_ids"]) == 2
        url = f"{PUBLIC_URL}/callbacks/vn/status"
        first, second = shown["carrier_ids"]
        vonage.delivery_receipt(url, first, client_ref=code_id).fire(client)
        assert delivery(client, code_id)["status"] == "sent"
        vonage.delivery_receipt(url, first, client_ref=code_id).fire(client)  # a repeated report
        assert delivery(client, code_id)["status"] == "sent"
        vonage.delivery_receipt(url, second, client_ref=code_id).fire(client)
        assert delivery(client, code_id)["status"] == "delivered"

    def test_stale_receipt_is_403_and_changes_nothing(self, carrier_app, workers, twilio, vonage):
        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(Fault.server_error(503))
        code_id = issue_id(client)
        run(workers(app))
        carrier_id = delivery(client, code_id)["carrier_ids"][0]
        stale = vonage.delivery_receipt(f"{PUBLIC_URL}/callbacks/vn/status", carrier_id, client_ref=code_id,
                                        timestamp=int(time.time()) - 3600)
        assert stale.fire(client)[0] == 403
        assert delivery(client, code_id)["status"] == "sent"


class TestFailures:
    """Carrier trouble is survived: fail-over, breakers, pauses for everyone, no late codes."""

    def test_carrier_500_fails_over_to_the_next_carrier(self, carrier_app, workers, twilio, vonage):
        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(Fault.server_error(500))
        code_id = issue_id(client)
        run(workers(app))
        assert len(vonage.requests) == 1 and vonage.last.form["client-ref"] == code_id
        assert delivery(client, code_id)["transport"] == "vn"

    def test_a_tripped_breaker_takes_the_carrier_out_of_rotation(self, carrier_app, workers, twilio, vonage):
        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(Fault.server_error(500), Fault.server_error(500))
        worker = workers(app)
        for n in range(2):
            issue_id(client, f"+1415555{2200 + n:04d}")
            run(worker)
        seen = len(twilio.requests)
        issue_id(client, "+14155552210")
        run(worker)
        assert len(twilio.requests) == seen  # open: Twilio was not even asked
        assert len(vonage.requests) == 3
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'otpgw_transport_skips_total{reason="open",transport="tw"}' in metrics

    def test_throttling_pauses_the_carrier_for_every_worker(self, carrier_app, workers, twilio, vonage):
        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(Fault.throttled("30"))
        first, second = workers(app, "w1"), workers(app, "w2")
        issue_id(client, "+14155552301")
        run(first)
        asked = len(twilio.requests)
        issue_id(client, "+14155552302")
        run(second)  # another worker, which never saw the 429
        assert len(twilio.requests) == asked and len(vonage.requests) == 2

    def test_dropped_connection_after_accept_is_retried_on_the_same_carrier(self, carrier_app, workers,
                                                                             twilio, vonage):
        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(Fault.dropped())
        code_id = issue_id(client)
        worker = workers(app)
        poll(lambda: delivery(client, code_id)["status"] == "sent", step=lambda: run(worker, 1),
             what="the retry on the same carrier")
        assert len(twilio.requests) == 2 and vonage.requests == []
        assert delivery(client, code_id)["transport"] == "tw"

    def test_permanent_error_fails_without_trying_another_carrier(self, carrier_app, workers, twilio, vonage):
        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(TwilioCarrier.error(21211, "The 'To' number is not a valid phone number."))
        code_id = issue_id(client)
        run(workers(app))
        shown = delivery(client, code_id)
        assert (shown["status"], shown["error_code"]) == ("failed", "21211") and vonage.requests == []

    def test_an_expired_code_is_never_sent(self, carrier_app, workers, twilio, vonage, clock):
        app = carrier_app(clock=clock)
        client = app.test_client()
        code_id = issue_id(client, ttl=30)
        clock.advance(31)
        settings = app.extensions["otpgw.settings"]
        worker = DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["tw", "vn"]),
                                clock=clock)
        try:
            run(worker)
        finally:
            worker.close()
            worker.store.close()
        assert twilio.requests == [] and vonage.requests == []
        assert delivery(client, code_id)["status"] == "failed"


class TestWorkerReadiness:
    """A worker's /readyz shows each transport's breaker."""

    def test_readyz_names_an_open_breaker(self, carrier_app, workers, twilio):
        from otpgw.runtime import worker_probes
        from otpgw.web import probe_app

        app = carrier_app()
        client = app.test_client()
        twilio.fail_next(Fault.server_error(500), Fault.server_error(500))
        worker = workers(app)
        for n in range(2):
            issue_id(client, f"+1415555{2400 + n:04d}")
            run(worker)
        reply = probe_app(worker_probes(worker)).test_client().get("/readyz")
        body = reply.get_json()
        assert reply.status_code == 200, body
        assert body["transports"]["tw"]["breaker"] == "open" and body["transports"]["vn"]["breaker"] == "closed"


@pytest.mark.slow  # a worker subprocess
class TestWorkerKilledMidDelivery:
    """A worker killed while the carrier holds its request: another worker delivers the code."""

    def test_message_of_a_killed_worker_is_claimed_and_sent(self, carrier_app, twilio, tmp_path, redis_server):
        import os
        import signal
        import sys

        from conftest import API_KEY, SECRET, ChildProcess, free_port

        app = carrier_app(worker_claim_idle=1)
        client = app.test_client()
        config = tmp_path / "otpgw.toml"
        config.write_text(f'''public_url = "{PUBLIC_URL}"
[transports.tw]
type = "twilio"
account_sid = "{TwilioCarrier.ACCOUNT_SID}"
auth_token = "{TwilioCarrier.AUTH_TOKEN}"
from = "+15017122661"
base_url = "{twilio.url}"
read_timeout = 30
''')
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
        env.update(OTPGW_SECRET_KEYS=SECRET, OTPGW_API_KEYS=f"app:{API_KEY}", OTPGW_REDIS_URL=redis_server.url,
                   OTPGW_CONFIG=str(config), OTPGW_WORKER_HEALTH_PORT=str(free_port()), PYTHONUNBUFFERED="1")
        twilio.fail_next(Fault.slow(30))  # the carrier holds the first request
        code_id = issue_id(client)
        doomed = ChildProcess([sys.executable, "-m", "otpgw.cli", "worker"], env)
        try:
            twilio.wait_for(lambda requests: len(requests) >= 1, timeout=20)
            doomed.proc.send_signal(signal.SIGKILL)
        finally:
            doomed.stop()
        assert delivery(client, code_id)["status"] == "queued"

        settings = app.extensions["otpgw.settings"]
        survivor = DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["tw"]),
                                  consumer="survivor")
        try:
            time.sleep(1.1)  # past worker_claim_idle
            poll(lambda: delivery(client, code_id)["status"] == "sent", step=lambda: run(survivor, 1),
                 timeout=15, what="the survivor to claim and send")
        finally:
            survivor.close()
            survivor.store.close()
        refs = [r.form["StatusCallback"].rsplit("=", 1)[-1] for r in twilio.requests]
        assert refs == [code_id, code_id]  # at least once: the killed worker's request may have gone out
