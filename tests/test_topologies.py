"""Sentinel and Cluster: the documented settings work against real servers the tests start."""
from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
import redis

from otpgw import create_app
from otpgw.delivery.worker import DeliveryWorker
from otpgw.transports.fake import FakeTransport

from conftest import AUTH, PHONE, RedisServer, free_port, send, verify

pytestmark = pytest.mark.slow  # real Sentinel and a three-node Cluster


def wait_until(check, what: str, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sentinel(tmp_path):
    master = RedisServer().start()
    port = free_port()  # the sentinel writes its config file, so it lives in tmp_path
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor otpgwmaster 127.0.0.1 {master.port} 1\n")
    proc = subprocess.Popen([master.binary, str(conf), "--sentinel"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        wait_until(lambda: client.sentinel_master("otpgwmaster"), "the sentinel to know its master")
        client.close()
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        master.close()


@pytest.fixture
def cluster():
    if not shutil.which("redis-cli"):
        pytest.fail("redis-cli is needed to form a test cluster (Debian package redis-tools)", pytrace=False)
    nodes = []
    try:
        for _ in range(3):
            # an explicit bus port: the default (port + 10000) overflows for high ports
            nodes.append(RedisServer("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                     "--cluster-port", str(free_port())).start())
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        first = redis.Redis(port=nodes[0].port)
        wait_until(lambda: "cluster_state:ok" in first.execute_command("CLUSTER", "INFO", NEVER_DECODE=True).decode(), "the cluster to be ok")
        first.close()
        yield f"redis://127.0.0.1:{nodes[0].port}/0"
    finally:
        for node in nodes:
            node.close()


def round_trip(app) -> None:
    """Send, deliver through a worker, one wrong and one right verify, then status."""
    client = app.test_client()
    reply = send(client, PHONE, user_ref="alice", client_ip="198.51.100.4")
    assert reply.status_code == 202, reply.json
    code_id = reply.json["id"]
    transport = FakeTransport()
    assert DeliveryWorker(app.extensions["otpgw.settings"], app.extensions["otpgw.store"], transport).run_once() == 1
    assert [m.destination for m in transport.sent] == [PHONE]
    code = re.search(r"\b\d{6}\b", transport.sent[0].text).group(0)
    wrong = "111111" if code != "111111" else "222222"
    assert verify(client, id=code_id, code=wrong, user_ref="alice").json["reason"] == "invalid"
    assert verify(client, phone=PHONE, code=code, user_ref="alice").json["reason"] == "approved"
    assert client.get(f"/otp/{code_id}", headers=AUTH).json["delivery"]["status"] == "sent"


class TestSentinel:
    """With OTPGW_REDIS_SENTINELS the service finds the master through Sentinel."""

    def test_send_deliver_verify_through_sentinel(self, sentinel, make_settings):
        settings = make_settings(redis_url="redis://unused:1/0", redis_sentinels=(sentinel,),
                                 redis_sentinel_master="otpgwmaster")
        round_trip(create_app(settings))


class TestCluster:
    """With OTPGW_REDIS_CLUSTER every script runs whole on one node of a real cluster."""

    def test_send_deliver_verify_on_a_three_node_cluster(self, cluster, make_settings):
        settings = make_settings(redis_url=cluster, redis_cluster=True)
        round_trip(create_app(settings))
