"""A code through a real Kannel and back: API, worker, smsbox, bearerbox, the fake SMSC, and
Kannel's delivery report calling otpgw's own callback view over HTTP."""
from __future__ import annotations

import pytest

from otpgw.delivery.worker import DeliveryWorker
from otpgw.runtime import build_transports
from otpgw.store import Store
from otpgw.web import serve_in_thread

from conftest import PHONE, free_port, sent_code
from support.flows import delivery, issue_id, poll
from support.kannel import PASSWORD, USERNAME

pytestmark = pytest.mark.slow  # a real Kannel


@pytest.fixture
def served(make_app, kannel):
    """The API served over HTTP on a free port, which is its public URL: Kannel calls it."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    app = make_app(public_url=public, transport="kn", transports={"kn": {"type": "kannel", "url": kannel.sendsms_url,
                                                         "username": USERNAME, "password": PASSWORD,
                                                         "from": "ACME"}})
    server = serve_in_thread(app, "127.0.0.1", port, "otpgw-e2e")
    yield app
    server.shutdown()


def test_code_reaches_the_smsc_and_kannels_report_marks_it_delivered(served, kannel):
    client = served.test_client()
    code_id = issue_id(client, PHONE)
    code = sent_code(served, code_id)
    settings = served.extensions["otpgw.settings"]
    worker = DeliveryWorker(settings, Store.connect(settings), build_transports(settings, ["kn"]))
    try:
        worker.run_once(block_ms=10)
        received = kannel.wait_for_smsc(lambda ms: any(code in m.text for m in ms))
        assert any(m.receiver.lstrip("+") == PHONE.lstrip("+") and code in m.text for m in received)
        poll(lambda: delivery(client, code_id)["status"] == "delivered", timeout=20,
             what="Kannel's delivery report to reach otpgw")
    finally:
        worker.close()
        worker.store.close()
    assert delivery(client, code_id)["transport"] == "kn"
