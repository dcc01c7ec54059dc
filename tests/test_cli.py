"""The ``otpgw`` command as an operator runs it: real subprocesses, real HTTP, real Redis.

``dev`` needs no Redis at all; ``worker`` and the operator commands run against the
session's private redis-server, configured through ``OTPGW_*`` like a deployment.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from otpgw import create_app
from otpgw.cli import main
from otpgw.config import load_settings
from otpgw.domain.phones import mask

from conftest import (
    API_KEY,
    AUTH,
    PHONE,
    ROOT,
    SECRET,
    RedisServer,
    free_port,
    send,
    sent_code,
    verify,
)
from conftest import ChildProcess as Process

pytestmark = pytest.mark.slow  # subprocesses: otpgw dev, worker and operator commands

HTTP_TIMEOUT = 5


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment without any OTPGW_* setting of its own, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OTPGW_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def processes():
    """Start processes through this; every one is stopped at the end, whatever happened."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str]) -> Process:
        process = Process(args, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def wait_http(url: str, timeout: float = 20.0, process: Process | None = None) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=HTTP_TIMEOUT)
        except requests.ConnectionError:
            if time.monotonic() > deadline or (process and process.proc.poll() is not None):
                raise AssertionError(f"{url} never answered:\n{process.output[-4000:] if process else ''}")
            time.sleep(0.1)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP listener on ``port``, from /proc/net/tcp (Linux)."""
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            if v6:
                found.add("::" if set(address) == {"0"} else address)
            else:
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def console_code(process: Process, code_id: str) -> str:
    """The code the console transport printed for ``code_id``."""
    for n, line in enumerate(process.lines):
        if "[otpgw console SMS]" in line and code_id in line:
            text = " ".join(process.lines[n + 1:n + 3])
            return re.search(r"\b(\d{6,10})\b", text).group(1)
    raise AssertionError(f"no console SMS for {code_id}")


# -- otpgw dev -------------------------------------------------------------------------

@pytest.fixture
def dev_server(processes):
    port = free_port()
    process = processes([sys.executable, "-m", "otpgw.cli", "dev", "--port", str(port)], child_env())
    process.wait_for(lambda: f"listening on http://127.0.0.1:{port}" in process.output, what="the dev banner")
    wait_http(f"http://127.0.0.1:{port}/healthz", process=process)
    process.base = f"http://127.0.0.1:{port}"
    process.port = port
    return process


class TestDevCommand:
    """``otpgw dev`` runs the API and a console worker on an embedded store, on loopback only."""

    def test_prints_the_dev_mode_banner(self, dev_server):
        assert "otpgw DEV MODE" in dev_server.output
        assert "Never use dev mode in production" in dev_server.output

    def test_listens_on_loopback_only(self, dev_server):
        assert listening_addresses(dev_server.port) == {"127.0.0.1"}

    def test_send_read_console_verify_round_trip(self, dev_server):
        reply = requests.post(f"{dev_server.base}/otp/send", json={"phone": PHONE}, timeout=HTTP_TIMEOUT)
        assert reply.status_code == 202, reply.text
        code_id = reply.json()["id"]
        dev_server.wait_for(lambda: any(code_id in line and "console SMS" in line for line in dev_server.lines)
                            and len(dev_server.lines) > 2, what="the console SMS")
        dev_server.wait_for(lambda: _has_code_after(dev_server, code_id), what="the SMS text")
        code = console_code(dev_server, code_id)
        assert mask(PHONE) in dev_server.output and PHONE not in dev_server.output

        ok = requests.post(f"{dev_server.base}/otp/verify", json={"id": code_id, "code": code}, timeout=HTTP_TIMEOUT)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"valid": True, "id": code_id, "status": "approved", "reason": "approved"}
        again = requests.post(f"{dev_server.base}/otp/verify", json={"id": code_id, "code": code},
                              timeout=HTTP_TIMEOUT)
        assert again.status_code == 410 and again.json()["error"]["code"] == "already_used"
        status = requests.get(f"{dev_server.base}/otp/{code_id}", timeout=HTTP_TIMEOUT).json()
        assert status["status"] == "approved"
        assert status["delivery"]["status"] == "sent" and status["delivery"]["transport"] == "console"

    def test_sigterm_exits_cleanly(self, processes):
        port = free_port()
        process = processes([sys.executable, "-m", "otpgw.cli", "dev", "--port", str(port)], child_env())
        wait_http(f"http://127.0.0.1:{port}/healthz", process=process)
        assert process.stop(signal.SIGTERM) == 0


def _has_code_after(process: Process, code_id: str) -> bool:
    try:
        console_code(process, code_id)
        return True
    except (AssertionError, AttributeError):
        return False


# -- otpgw healthcheck -----------------------------------------------------------------

class TestHealthcheckCommand:
    """``otpgw healthcheck`` exits 0 only when the URL answers 200 (container HEALTHCHECK)."""

    def test_healthy_url_exits_0(self, dev_server):
        assert main(["healthcheck", "--url", f"{dev_server.base}/healthz"]) == 0

    def test_non_200_exits_1(self, dev_server, capsys):
        assert main(["healthcheck", "--url", f"{dev_server.base}/no-such-path"]) == 1
        assert "not healthy" in capsys.readouterr().err

    def test_nothing_listening_exits_1(self, capsys):
        assert main(["healthcheck", "--url", f"http://127.0.0.1:{free_port()}/healthz"]) == 1
        assert "not healthy" in capsys.readouterr().err

    def test_any_healthy_url_of_several_is_enough(self, dev_server):
        down = f"http://127.0.0.1:{free_port()}/healthz"
        assert main(["healthcheck", "--url", down, "--url", f"{dev_server.base}/healthz"]) == 0

    def test_default_probes_the_worker_health_port(self, worker_process, monkeypatch):
        monkeypatch.setenv("OTPGW_WORKER_HEALTH_PORT", worker_process.base.rsplit(":", 1)[1])
        assert main(["healthcheck"]) == 0

    def test_as_a_subprocess(self, dev_server):
        ok = subprocess.run([sys.executable, "-m", "otpgw.cli", "healthcheck", "--url", f"{dev_server.base}/healthz"],
                            env=child_env(), cwd=ROOT, capture_output=True, timeout=30)
        assert ok.returncode == 0
        down = subprocess.run([sys.executable, "-m", "otpgw.cli", "healthcheck", "--url",
                               f"http://127.0.0.1:{free_port()}/healthz"],
                              env=child_env(), cwd=ROOT, capture_output=True, timeout=30)
        assert down.returncode == 1


# -- otpgw opt-out | opt-in | unlock ---------------------------------------------------

@pytest.fixture
def deployment_env(monkeypatch, redis_server, redis_client):
    """OTPGW_* as a deployment would set them, pointing at the private redis."""
    for name in list(os.environ):
        if name.startswith("OTPGW_"):
            monkeypatch.delenv(name)
    values = {"OTPGW_SECRET_KEYS": SECRET, "OTPGW_API_KEYS": f"app:{API_KEY}",
              "OTPGW_REDIS_URL": redis_server.url, "OTPGW_TRANSPORT": "fake"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


class TestOperatorCommands:
    """Opt-out stops every message to a phone until opt-in; unlock releases a lockout."""

    def test_opt_out_then_send_is_refused_and_opt_in_restores(self, deployment_env, make_app, capsys):
        client = make_app().test_client()
        assert main(["opt-out", PHONE]) == 0
        assert "opted out" in capsys.readouterr().out

        refused = send(client)
        assert refused.status_code == 403
        assert refused.json["error"]["code"] == "opted_out"

        assert main(["opt-in", PHONE]) == 0
        assert "opted in" in capsys.readouterr().out
        assert send(client).status_code == 202

    def test_opt_out_accepts_any_spelling_of_the_number(self, deployment_env, make_app):
        client = make_app().test_client()
        assert main(["opt-out", "+1 (415) 555-2671"]) == 0
        assert send(client).json["error"]["code"] == "opted_out"

    def test_opt_out_as_a_subprocess(self, deployment_env, make_app):
        done = subprocess.run([sys.executable, "-m", "otpgw.cli", "opt-out", PHONE],
                              env=child_env(**deployment_env), cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert send(make_app().test_client()).status_code == 403

    def test_unlock_releases_a_locked_phone(self, deployment_env, make_app, capsys):
        app = make_app(lockout_threshold=2)
        client = app.test_client()
        code_id = send(client).json["id"]
        wrong = "000000" if sent_code(app, code_id) != "000000" else "111111"
        verify(client, id=code_id, code=wrong)
        verify(client, id=code_id, code=wrong)
        locked = verify(client, id=code_id, code=sent_code(app, code_id))
        assert locked.status_code == 423

        assert main(["unlock", PHONE]) == 0
        assert "released" in capsys.readouterr().out
        assert verify(client, id=code_id, code=sent_code(app, code_id)).json["valid"] is True

    def test_missing_phone_exits_2(self, deployment_env, capsys):
        assert main(["opt-out"]) == 2
        assert "phone" in capsys.readouterr().err

    def test_invalid_phone_is_a_sentence_not_a_traceback(self, deployment_env, capsys):
        done = subprocess.run([sys.executable, "-m", "otpgw.cli", "opt-out", "12"],
                              env=child_env(**deployment_env), cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr
        assert "phone" in done.stderr

    def test_redis_down_is_a_sentence_not_a_traceback(self, deployment_env):
        env = child_env(**{**deployment_env, "OTPGW_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
        done = subprocess.run([sys.executable, "-m", "otpgw.cli", "opt-out", PHONE],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr
        assert "otpgw:" in done.stderr

    def test_bad_configuration_exits_2_with_the_setting_named(self, deployment_env, monkeypatch, capsys):
        monkeypatch.delenv("OTPGW_SECRET_KEYS")
        assert main(["opt-out", PHONE]) == 2
        assert "OTPGW_SECRET_KEYS" in capsys.readouterr().err


# -- otpgw worker ----------------------------------------------------------------------

@pytest.fixture
def worker_process(processes, redis_server, redis_client):
    port = free_port()
    env = child_env(OTPGW_SECRET_KEYS=SECRET, OTPGW_API_KEYS=f"app:{API_KEY}", OTPGW_REDIS_URL=redis_server.url,
                    OTPGW_TRANSPORT="console", OTPGW_WORKER_HEALTH_PORT=str(port))
    process = processes([sys.executable, "-m", "otpgw.cli", "worker"], env)
    wait_http(f"http://127.0.0.1:{port}/healthz", process=process)
    process.base = f"http://127.0.0.1:{port}"
    return process


class TestWorkerCommand:
    """``otpgw worker`` delivers queued codes, serves its probes and metrics, and stops on SIGTERM."""

    def test_probe_address_is_a_setting(self, processes, redis_server, redis_client):
        port = free_port()
        env = child_env(OTPGW_SECRET_KEYS=SECRET, OTPGW_API_KEYS=f"app:{API_KEY}", OTPGW_REDIS_URL=redis_server.url,
                        OTPGW_TRANSPORT="console", OTPGW_WORKER_HEALTH_PORT=str(port),
                        OTPGW_WORKER_HEALTH_HOST="127.0.0.1")
        process = processes([sys.executable, "-m", "otpgw.cli", "worker"], env)
        wait_http(f"http://127.0.0.1:{port}/healthz", process=process)
        assert listening_addresses(port) == {"127.0.0.1"}

    def test_probes_answer(self, worker_process):
        assert requests.get(f"{worker_process.base}/healthz", timeout=HTTP_TIMEOUT).status_code == 200
        ready = requests.get(f"{worker_process.base}/readyz", timeout=HTTP_TIMEOUT)
        assert ready.status_code == 200, ready.text
        metrics = requests.get(f"{worker_process.base}/metrics", timeout=HTTP_TIMEOUT)
        assert metrics.status_code == 200
        assert 'otpgw_queue_depth{lane="otp"}' in metrics.text
        assert "otpgw_deliveries_total" in metrics.text

    def test_code_sent_through_the_api_is_printed_masked(self, worker_process, make_app):
        app = make_app(transport="console")
        client = app.test_client()
        reply = send(client)
        assert reply.status_code == 202
        code_id = reply.json["id"]
        code = sent_code(app, code_id)

        worker_process.wait_for(lambda: _has_code_after(worker_process, code_id), what="the console SMS")
        assert console_code(worker_process, code_id) == code
        assert mask(PHONE) in worker_process.output
        assert PHONE not in worker_process.output

        def sent() -> bool:
            return client.get(f"/otp/{code_id}", headers=AUTH).json["delivery"]["status"] == "sent"

        worker_process.wait_for(sent, what="delivery status sent")
        metrics = requests.get(f"{worker_process.base}/metrics", timeout=HTTP_TIMEOUT).text
        assert 'otpgw_deliveries_total{status="sent",transport="console"} 1.0' in metrics
        assert 'otpgw_queue_depth{lane="otp"} 0.0' in metrics

    def test_sigterm_exits_0(self, worker_process):
        assert worker_process.stop(signal.SIGTERM, timeout=15) == 0


@pytest.fixture
def late_redis():
    """A redis-server with a port chosen now but started only when the test says so."""
    server = RedisServer()
    yield server
    server.close()


class TestWorkerBeforeRedis:
    """A worker started before Redis (a common start-up order) waits for it instead of crashing."""

    def test_worker_waits_for_redis_then_delivers(self, processes, late_redis):
        port = free_port()
        env = child_env(OTPGW_SECRET_KEYS=SECRET, OTPGW_API_KEYS=f"app:{API_KEY}", OTPGW_REDIS_URL=late_redis.url,
                        OTPGW_TRANSPORT="console", OTPGW_WORKER_HEALTH_PORT=str(port))
        process = processes([sys.executable, "-m", "otpgw.cli", "worker"], env)
        base = f"http://127.0.0.1:{port}"
        assert wait_http(f"{base}/healthz", process=process).status_code == 200
        assert requests.get(f"{base}/readyz", timeout=HTTP_TIMEOUT).status_code == 503
        end = time.monotonic() + 2
        while time.monotonic() < end:
            assert process.proc.poll() is None, f"the worker died while Redis was away:\n{process.output[-3000:]}"
            time.sleep(0.1)

        late_redis.start()
        deadline = time.monotonic() + 15
        while requests.get(f"{base}/readyz", timeout=HTTP_TIMEOUT).status_code != 200:
            assert time.monotonic() < deadline, "the worker never became ready once Redis was up"
            time.sleep(0.1)
        app = create_app(load_settings(environ={}, secret_keys=(SECRET,), api_keys=(("app", API_KEY),),
                                       redis_url=late_redis.url, transport="console"))
        code_id = send(app.test_client()).json["id"]
        process.wait_for(lambda: _has_code_after(process, code_id), what="the console SMS")
        app.extensions["otpgw.store"].client.close()
