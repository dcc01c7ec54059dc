"""Metrics and logs as an operator sees them: from a real multi-worker gunicorn, over real HTTP.

Metrics must add up across gunicorn workers whichever worker answers the scrape, and
carry no personal data in labels. Logs are JSON lines: one per request with its request
id, audit events with the phone masked, and never a code, even when delivery fails.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from otpgw.delivery.worker import DeliveryWorker
from otpgw.domain.phones import mask
from otpgw.logs import JsonFormatter
from otpgw.store import Store
from otpgw.transports import Message, PermanentTransportError, TemporaryTransportError
from otpgw.transports.fake import FakeTransport

from conftest import (
    API_KEY,
    AUTH,
    PHONE,
    operator,
    send,
    sent_code,
    verify,
)

PHONES = [f"+1415555{n:04d}" for n in range(2600, 2640)]
HTTP_TIMEOUT = 10
BEARER = {"Authorization": f"Bearer {API_KEY}"}


from support.gunicorn import gunicorn  # noqa: E402,F401  (the fixture)


def post(base: str, path: str, body: dict, headers: dict | None = None) -> requests.Response:
    # No session: every request opens its own connection, so any worker may take it.
    return requests.post(f"{base}{path}", json=body, headers={**BEARER, **(headers or {})}, timeout=HTTP_TIMEOUT)


def scrape(base: str) -> list[tuple[str, dict[str, str], float]]:
    reply = requests.get(f"{base}/metrics", timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(reply.text)
            for s in family.samples]


def total(samples, name: str, **labels: str) -> float:
    return sum(value for n, lbl, value in samples if n == name and all(lbl.get(k) == v for k, v in labels.items()))


def serving_pids(metrics_dir) -> set[str]:
    """Processes that have written metrics (prometheus-client names its files <type>_<pid>.db)."""
    return {m.group(1) for f in os.listdir(metrics_dir) if (m := re.search(r"_(\d+)\.db$", f))}


def wrong_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- metrics -------------------------------------------------------------------------

@pytest.mark.slow  # a gunicorn subprocess
class TestMetricsUnderGunicorn:
    """Every scrape of a multi-worker gunicorn shows the whole pod's counts, and no personal data."""

    @pytest.mark.parametrize("worker_class", ["sync", "gevent"])
    def test_counters_add_up_whichever_worker_answers(self, gunicorn, make_app, worker_class):
        server = gunicorn(worker_class, workers=3)
        app = make_app()  # same Redis and keys: reads the queued codes as a worker would
        phones = PHONES[:6]
        with ThreadPoolExecutor(6) as pool:
            sent = list(pool.map(lambda p: post(server.base, "/otp/send", {"phone": p}), phones))
        assert [r.status_code for r in sent] == [202] * 6, [r.text for r in sent]
        ids = [r.json()["id"] for r in sent]
        codes = [sent_code(app, i) for i in ids]
        resent = [post(server.base, "/otp/send", {"phone": p}) for p in phones[:2]]
        assert [r.status_code for r in resent] == [429, 429]
        assert {r.json()["error"]["details"]["limit"] for r in resent} == {"resend_cooldown"}

        attempts = [(ids[n], codes[n]) for n in range(3)] + [(ids[n], wrong_code(codes[n])) for n in (3, 4)]
        with ThreadPoolExecutor(5) as pool:
            checked = list(pool.map(lambda a: post(server.base, "/otp/verify", {"id": a[0], "code": a[1]}), attempts))
        assert [r.json().get("reason") for r in checked] == ["approved"] * 3 + ["invalid"] * 2
        reused = post(server.base, "/otp/verify", {"id": ids[0], "code": codes[0]})
        assert reused.status_code == 410
        for code_id in ids[:2]:  # ids in the URL must not become label values
            assert requests.get(f"{server.base}/otp/{code_id}", headers=BEARER, timeout=HTTP_TIMEOUT).ok

        forbidden = set(ids) | set(codes) | set(phones) | {p.lstrip("+") for p in phones} | {p[2:] for p in phones}
        expected = {
            ("otpgw_sends_total", "queued"): 6, ("otpgw_sends_total", "rate_limited"): 2,
            ("otpgw_verifies_total", "approved"): 3, ("otpgw_verifies_total", "invalid"): 2,
            ("otpgw_verifies_total", "already_used"): 1,
        }
        scrapes = 0
        while scrapes < 5 or (len(serving_pids(server.metrics_dir)) < 2 and scrapes < 40):
            samples = scrape(server.base)
            scrapes += 1
            seen = {key: total(samples, key[0], outcome=key[1]) for key in expected}
            assert seen == expected, f"scrape {scrapes}"
            assert total(samples, "otpgw_limit_refusals_total", limit="resend_cooldown") == 2
            assert total(samples, "otpgw_request_duration_seconds_count", endpoint="/otp/send") == 8
            assert total(samples, "otpgw_request_duration_seconds_count", endpoint="/otp/verify") == 6
            assert total(samples, "otpgw_queue_depth", lane="otp") == 6
            leaks = [(n, lbl) for n, lbl, _ in samples for v in lbl.values() for bad in forbidden if bad in v]
            assert leaks == [], f"personal data or ids in metric labels: {leaks}"
        assert len(serving_pids(server.metrics_dir)) >= 2, "precondition: requests were spread over workers"

    def test_counts_survive_a_worker_that_dies(self, gunicorn):
        server = gunicorn("sync", workers=3)
        with ThreadPoolExecutor(6) as pool:
            sent = list(pool.map(lambda p: post(server.base, "/otp/send", {"phone": p}), PHONES[:6]))
        assert [r.status_code for r in sent] == [202] * 6

        def booted() -> list[int]:
            return [int(m.group(1)) for line in server.lines if (m := re.search(r"Booting worker with pid: (\d+)", line))]

        victim = next(int(pid) for pid in serving_pids(server.metrics_dir) if int(pid) in booted())
        os.kill(victim, signal.SIGKILL)  # a gunicorn worker of our own gunicorn, by its pid
        server.wait_for(lambda: len(booted()) >= 4, what="gunicorn to replace the dead worker")

        for _ in range(6):
            assert total(scrape(server.base), "otpgw_sends_total", outcome="queued") == 6
        assert post(server.base, "/otp/send", {"phone": PHONES[6]}).status_code == 202
        for _ in range(6):
            assert total(scrape(server.base), "otpgw_sends_total", outcome="queued") == 7


# -- logs from gunicorn ----------------------------------------------------------------

@pytest.mark.slow  # a gunicorn subprocess
class TestRequestLogs:
    """One JSON line per request carries its request id; audit lines mask the phone; no code anywhere."""

    @pytest.fixture
    def server(self, gunicorn):
        return gunicorn("sync", workers=2, OTPGW_LOCKOUT_THRESHOLD="2")

    def access_lines(self, server, request_id: str) -> list[dict]:
        return [e for e in server.json_lines() if e.get("logger") == "otpgw.access" and e.get("request_id") == request_id]

    def test_given_request_id_is_echoed_and_logged_once(self, server):
        reply = post(server.base, "/otp/send", {"phone": PHONE}, headers={"X-Request-ID": "login-7f3a.42"})
        assert reply.status_code == 202
        assert reply.headers["X-Request-ID"] == "login-7f3a.42"
        server.wait_for(lambda: self.access_lines(server, "login-7f3a.42"), what="the access line")
        time.sleep(0.3)  # a duplicate line would arrive by now
        (line,) = self.access_lines(server, "login-7f3a.42")
        assert line["path"] == "/otp/send" and line["status"] == 202 and line["method"] == "POST"

    def test_request_id_is_generated_when_absent_or_unusable(self, server):
        cases = ({}, {"X-Request-ID": "spaces are not allowed"}, {"X-Request-ID": "x" * 300})
        for phone, headers in zip(PHONES, cases):
            reply = post(server.base, "/otp/send", {"phone": phone}, headers=headers)
            generated = reply.headers.get("X-Request-ID", "")
            assert re.fullmatch(r"[0-9a-f]{32}", generated), (headers, generated)
            server.wait_for(lambda: self.access_lines(server, generated), what="the access line")

    def test_every_request_line_has_a_request_id(self, server):
        for n in range(4):
            post(server.base, "/otp/send", {"phone": PHONES[n]})
        post(server.base, "/otp/verify", {"phone": PHONES[0], "code": "12345"})  # 400: bad code format
        requests.get(f"{server.base}/otp/{'a' * 32}", headers=BEARER, timeout=HTTP_TIMEOUT)  # 404
        server.wait_for(lambda: len([e for e in server.json_lines() if e.get("logger") == "otpgw.access"]) >= 6,
                        what="six access lines")
        access = [e for e in server.json_lines() if e.get("logger") == "otpgw.access"]
        assert all(re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) for e in access)
        assert len({e["request_id"] for e in access}) == len(access)
        assert {e["status"] for e in access} == {202, 400, 404}

    def test_audit_lines_mask_the_phone_and_no_line_holds_a_code(self, server, make_app):
        app = make_app()
        code_id = post(server.base, "/otp/send", {"phone": PHONE}).json()["id"]
        code = sent_code(app, code_id)
        bad = wrong_code(code)
        post(server.base, "/otp/verify", {"phone": PHONE, "code": bad})
        locking = post(server.base, "/otp/verify", {"id": code_id, "code": bad})
        assert locking.status_code in (200, 423)
        post(server.base, "/otp/verify", {"id": code_id, "code": code})  # refused: locked

        def events():
            return [e for e in server.json_lines() if e.get("logger") == "otpgw.audit"]

        server.wait_for(lambda: {"otp.send", "otp.verify", "otp.lockout"} <= {e["event"] for e in events()},
                        what="send, verify and lockout audit lines")
        sends = [e for e in events() if e["event"] == "otp.send"]
        assert [e["phone"] for e in sends] == [mask(PHONE)]
        assert PHONE not in server.output and PHONE.lstrip("+") not in server.output
        assert code not in server.output


# -- audit and worker logs, in process -------------------------------------------------

def formatted(caplog) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(record) for record in caplog.records]


class TestAuditLogs:
    """Each audit event is one JSON object with the phone masked and no code."""

    def test_send_verify_lockout_release_and_opt_out(self, make_app, caplog):
        caplog.set_level(logging.INFO)
        app = make_app(lockout_threshold=2)
        client = app.test_client()
        code_id = send(client).json["id"]
        code = sent_code(app, code_id)
        verify(client, id=code_id, code=wrong_code(code))
        verify(client, id=code_id, code=wrong_code(code))
        tool = operator(app)
        tool.run("unlock", phone=PHONE, user_ref=None, client=None)
        tool.run("opt-out", phone=PHONE, user_ref=None, client=None)

        lines = formatted(caplog)
        entries = [json.loads(line) for line in lines]
        audit: dict[str, list[dict]] = {}
        for e in entries:
            if e.get("logger") == "otpgw.audit":
                audit.setdefault(e["event"], []).append(e)
        assert {"otp.send", "otp.verify", "otp.lockout", "otp.release", "otp.opt_out"} <= set(audit)
        for event in ("otp.send", "otp.release", "otp.opt_out"):
            assert [e["phone"] for e in audit[event]] == [mask(PHONE)], event
        assert [e["outcome"] for e in audit["otp.verify"]] == ["invalid", "locked"]
        assert [e["code_id"] for e in audit["otp.lockout"]] == [code_id]
        for line in lines:
            assert PHONE not in line and PHONE.lstrip("+") not in line
            assert code not in line


class EchoingTransport(FakeTransport):
    """A carrier whose error echoes the rejected message, body and all (some do)."""

    def send(self, message: Message) -> tuple[str, ...]:
        with self._lock:
            if not self.sent and self.attempts == 0:
                self.attempts += 1
                raise TemporaryTransportError(f"carrier rejected {message.destination}: {message.text}")
        return super().send(message)


class TestWorkerLogs:
    """A failing transport is logged without the code or the number."""

    @pytest.fixture
    def make_worker(self):
        stores = []

        def build(app, transport):
            settings = app.extensions["otpgw.settings"]
            store = Store.connect(settings)
            stores.append(store)
            return DeliveryWorker(settings, store, transport)

        yield build
        for store in stores:
            store.client.close()

    def deliver_all(self, worker, transport, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(transport.sent) < count and time.monotonic() < deadline:
            worker.run_once(block_ms=10)
            time.sleep(0.02)

    def test_no_code_or_number_in_logs_when_the_transport_fails(self, make_app, make_worker, caplog):
        caplog.set_level(logging.DEBUG)
        app = make_app(worker_retry_base=0.01)
        client = app.test_client()
        ids = [send(client, phone).json["id"] for phone in PHONES[:3]]
        codes = [sent_code(app, i) for i in ids]
        fake = FakeTransport()
        fake.fail_next(TemporaryTransportError("gateway timeout"), RuntimeError("driver bug"),
                       PermanentTransportError("unknown subscriber"))
        self.deliver_all(make_worker(app, fake), fake, 2)

        statuses = [client.get(f"/otp/{i}", headers=AUTH).json["delivery"]["status"] for i in ids]
        assert sorted(statuses) == ["failed", "sent", "sent"]
        lines = formatted(caplog)
        assert any("retries" in line for line in lines) and any("driver bug" in line or "RuntimeError" in line
                                                               for line in lines)
        for line in lines:
            for phone, code in zip(PHONES, codes):
                assert phone not in line and phone.lstrip("+") not in line
                assert code not in line

    def test_transport_error_echoing_the_text_leaks_no_code(self, make_app, make_worker, caplog):
        caplog.set_level(logging.DEBUG)
        app = make_app(worker_retry_base=0.01)
        client = app.test_client()
        code_id = send(client).json["id"]
        code = sent_code(app, code_id)
        echoing = EchoingTransport()
        self.deliver_all(make_worker(app, echoing), echoing, 1)
        assert len(echoing.sent) == 1
        for line in formatted(caplog):
            assert code not in line and PHONE not in line
        status = client.get(f"/otp/{code_id}", headers=AUTH).json
        assert code not in json.dumps(status), "the status API shows the code via the delivery detail"
        assert PHONE not in json.dumps(status)
