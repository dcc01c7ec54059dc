"""A code routed to a GSM modem: API, the device's lane, its worker, the simulated modem.

The simulator (tests/support/modem_sim.py) is a pseudo-terminal that behaves like a modem;
the PDUs it received are decoded to check what would have left the antenna. Its status
reports (+CDS) come back through the worker's transport to the code's record, and an
inbound STOP opts the sender out of later sends.
"""
from __future__ import annotations

import threading

import pytest

from otpgw.delivery.worker import DeliveryWorker
from otpgw.runtime import build_transports
from otpgw.store import Store
from otpgw.transports.gsm import pdu

from conftest import send, sent_code
from support.flows import delivery, error, issue_id, poll
from support.modem_sim import SimModem

GERMAN = "+4915112345678"
FAST = dict(command_timeout=0.5, send_timeout=2.0, ready_wait=5.0, keepalive=0.3, registration_timeout=3.0,
            reopen_backoff=0.05, reopen_backoff_max=0.2)


@pytest.fixture
def sim(tmp_path):
    with SimModem(tmp_path) as modem:
        yield modem


@pytest.fixture
def modem_app(make_app, sim):
    """Routes German numbers to the modem, everything else to a fake carrier."""
    return make_app(transports={"gsm": {"type": "modem", "port": sim.path, **FAST}, "http": {"type": "fake"}},
                    routes=[{"countries": ["DE"], "transports": ["gsm", "http"]}, {"transports": ["http"]}],
                    worker_retry_base=0.05, resend_cooldown=0, send_window_max=1000)


@pytest.fixture
def device_worker(modem_app):
    """``otpgw worker --transport gsm``, running in a thread."""
    settings = modem_app.extensions["otpgw.settings"]
    store = Store.connect(settings, blocking_ms=settings.delivery.block_ms)
    worker = DeliveryWorker(settings, store, build_transports(settings, ["gsm"]), consumer="modem-host")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield worker
    stop.set()
    thread.join(10)
    worker.close()
    store.close()


@pytest.fixture
def http_worker(modem_app):
    settings = modem_app.extensions["otpgw.settings"]
    store = Store.connect(settings)
    worker = DeliveryWorker(settings, store, build_transports(settings, ["http"]), consumer="http-1")
    yield worker
    worker.close()
    store.close()


class TestCodeThroughTheModem:
    """The code leaves as a correct PDU, and the modem's status report marks it delivered."""

    def test_pdu_carries_the_number_and_the_code_and_the_report_marks_it_delivered(
            self, modem_app, sim, device_worker, http_worker):
        client = modem_app.test_client()
        code_id = issue_id(client, GERMAN)
        code = sent_code(modem_app, code_id)
        http_worker.run_once(block_ms=10)  # the shared worker hands the message to the modem's lane
        poll(lambda: sim.submitted, timeout=10, what="the modem to receive a PDU")
        submitted = pdu.decode(sim.submitted[0].pdu)
        assert submitted.destination.text == GERMAN and code in submitted.user_data.text
        assert submitted.report_requested and 0 < submitted.validity <= 300
        poll(lambda: delivery(client, code_id)["status"] == "sent", timeout=10, what="the submit to be recorded")
        shown = delivery(client, code_id)
        assert shown["transport"] == "gsm" and shown["carrier_ids"] == [f"gsm0:{sim.submitted[0].mr}"]

        sim.status_report(sim.submitted[0].mr, GERMAN, status=0)
        poll(lambda: delivery(client, code_id)["status"] == "delivered", timeout=10, what="+CDS to be applied")

    def test_a_modem_refusal_fails_over_to_the_carrier(self, modem_app, sim, device_worker, http_worker):
        client = modem_app.test_client()
        sim.fail_next_send(42)  # +CMS ERROR: 42, congestion: temporary
        code_id = issue_id(client, GERMAN)
        http_worker.run_once(block_ms=10)
        poll(lambda: delivery(client, code_id)["detail"] if "detail" in delivery(client, code_id) else "",
             timeout=10, what="the modem's failed attempt")
        poll(lambda: len(http_worker.transports["http"].sent) == 1, step=lambda: http_worker.run_once(block_ms=10),
             timeout=10, what="the carrier to take over")
        assert delivery(client, code_id)["transport"] == "http"


class TestInboundStop:
    """A STOP sent to the modem opts its sender out; START opts back in."""

    def test_stop_then_start(self, modem_app, sim, device_worker):
        client = modem_app.test_client()
        poll(lambda: device_worker.transports["gsm"].health().ready, timeout=10, what="the modem to be ready")
        sim.receive(GERMAN, "STOP")
        poll(lambda: send(client, GERMAN).status_code == 403, timeout=10, what="the opt-out")
        assert error(send(client, GERMAN)) == (403, "opted_out")
        sim.receive(GERMAN, "START")
        poll(lambda: send(client, GERMAN).status_code == 202, timeout=10, what="the opt-in")
