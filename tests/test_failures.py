"""Fail closed: when Redis is gone or hangs, send and verify answer 503, never a success."""
from __future__ import annotations

import socket
import threading

import pytest

from otpgw import create_app

from conftest import AUTH, PHONE, RedisServer, send, sent_code, verify


def assert_unavailable(reply) -> None:
    assert reply.status_code == 503, reply.get_data(as_text=True)
    body = reply.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "unavailable"


@pytest.fixture
def own_server():
    """A second private redis-server that this test alone stops and restarts."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def silent_port():
    """A TCP port on 127.0.0.1 that accepts connections and never answers a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept_forever, name="silent-redis", daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()
    for conn in accepted:
        conn.close()


def build_app(settings):
    app = create_app(settings)
    app.testing = True
    return app


@pytest.fixture
def outage(make_settings, own_server):
    """An app with one pending code, whose Redis has just been stopped."""
    app = build_app(make_settings(redis_url=own_server.url, redis_timeout=0.5))
    client = app.test_client()
    reply = send(client)
    assert reply.status_code == 202
    code_id = reply.get_json()["id"]
    code = sent_code(app, code_id)
    own_server.stop()
    yield app, client, code_id, code
    app.extensions["otpgw.store"].client.close()


class TestRedisDown:
    """With Redis stopped, every call that needs it answers 503 and nothing is approved."""

    def test_send_is_503(self, outage):
        _, client, _, _ = outage
        assert_unavailable(send(client, "+14155552672"))

    def test_right_code_by_id_is_503_not_an_approval(self, outage):
        _, client, code_id, code = outage
        assert_unavailable(verify(client, id=code_id, code=code))

    def test_right_code_by_phone_is_503_not_an_approval(self, outage):
        _, client, _, code = outage
        assert_unavailable(verify(client, phone=PHONE, code=code))

    def test_status_is_503(self, outage):
        _, client, code_id, _ = outage
        assert_unavailable(client.get(f"/otp/{code_id}", headers=AUTH))

    def test_cancel_is_503(self, outage):
        _, client, code_id, _ = outage
        assert_unavailable(client.post(f"/otp/{code_id}/cancel", headers=AUTH))

    def test_readiness_is_503(self, outage):
        _, client, _, _ = outage
        assert_unavailable(client.get("/readyz"))

    def test_liveness_stays_200(self, outage):
        _, client, _, _ = outage
        reply = client.get("/healthz")
        assert reply.status_code == 200 and reply.get_json() == {"status": "ok"}

    def test_metrics_are_still_served(self, outage):
        _, client, _, _ = outage
        assert client.get("/metrics").status_code == 200

    def test_malformed_request_is_still_400(self, outage):
        _, client, _, _ = outage
        assert client.post("/otp/send", json={}, headers=AUTH).status_code == 400


class TestRedisBack:
    """When the same Redis comes back, the same app serves again without a restart."""

    def test_service_recovers_when_redis_restarts(self, outage, own_server):
        app, client, code_id, code = outage
        assert_unavailable(send(client))
        own_server.start()  # same port; no persistence, so the old code is gone
        assert client.get("/readyz").status_code == 200
        reply = send(client)
        assert reply.status_code == 202, reply.get_json()
        new_id = reply.get_json()["id"]
        ok = verify(client, id=new_id, code=sent_code(app, new_id))
        assert ok.status_code == 200 and ok.get_json()["valid"] is True

    def test_code_lost_in_the_restart_is_not_found_never_approved(self, outage, own_server):
        _, client, code_id, code = outage
        own_server.start()
        reply = verify(client, id=code_id, code=code)
        assert reply.status_code == 404 and reply.get_json()["error"]["code"] == "not_found"

    def test_send_recovers_without_a_readiness_probe_first(self, outage, own_server):
        _, client, _, _ = outage
        own_server.start()
        assert send(client).status_code == 202


class TestRedisHangs:
    """A Redis that accepts connections but never answers gives 503 after the timeout."""

    @pytest.fixture
    def hung_client(self, make_settings, silent_port):
        app = build_app(make_settings(redis_url=f"redis://127.0.0.1:{silent_port}/0", redis_timeout=0.2))
        yield app.test_client()
        app.extensions["otpgw.store"].client.close()

    def test_send_is_503(self, hung_client):
        assert_unavailable(send(hung_client))

    def test_verify_is_503(self, hung_client):
        assert_unavailable(verify(hung_client, phone=PHONE, code="123456"))

    def test_readiness_is_503_and_liveness_200(self, hung_client):
        assert_unavailable(hung_client.get("/readyz"))
        assert hung_client.get("/healthz").status_code == 200
