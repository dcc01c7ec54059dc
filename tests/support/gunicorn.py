"""A real gunicorn running ``otpgw serve``'s configuration, for tests that need the server."""
from __future__ import annotations

import os
import sys
import time

import pytest
import requests

from conftest import API_KEY, SECRET, ChildProcess, free_port

HTTP_TIMEOUT = 5


def start_gunicorn(tmp_path, redis_url: str, worker_class: str, workers: int = 3, **extra: str) -> ChildProcess:
    """gunicorn with otpgw's config on a free port; ``.base`` is the API, ``.probes`` the master's probes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    port, probes = free_port(), free_port()
    (tmp_path / "runtime").mkdir(exist_ok=True)
    env.update(PYTHONUNBUFFERED="1", OTPGW_BIND=f"127.0.0.1:{port}", OTPGW_WORKERS=str(workers),
               OTPGW_WORKER_CLASS=worker_class, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
               OTPGW_SECRET_KEYS=SECRET, OTPGW_API_KEYS=f"app:{API_KEY}", OTPGW_REDIS_URL=redis_url,
               OTPGW_TRANSPORT="fake", OTPGW_HEALTH_PORT=str(probes), OTPGW_HEALTH_HOST="127.0.0.1",
               OTPGW_DRAIN_FILE=str(tmp_path / "draining"),
               XDG_RUNTIME_DIR=str(tmp_path / "runtime"),  # gunicorn's control socket: keep it ours
               **extra)
    process = ChildProcess([sys.executable, "-m", "gunicorn", "--config", "python:otpgw.gunicorn_conf",
                            "otpgw.wsgi:application"], env)
    process.base = f"http://127.0.0.1:{port}"
    process.port = port
    process.probes = f"http://127.0.0.1:{probes}"
    process.metrics_dir = tmp_path / "metrics"
    process.drain_file = tmp_path / "draining"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{process.base}/healthz", timeout=HTTP_TIMEOUT).status_code == 200:
                return process
        except requests.ConnectionError:
            pass
        if process.proc.poll() is not None or time.monotonic() > deadline:
            process.stop()
            raise AssertionError(f"gunicorn did not start:\n{process.output[-4000:]}")
        time.sleep(0.1)


@pytest.fixture
def gunicorn(tmp_path, redis_server, redis_client):
    """Start gunicorn through this; every instance is stopped at the end."""
    started: list[ChildProcess] = []

    def start(worker_class: str = "sync", workers: int = 3, **extra: str) -> ChildProcess:
        process = start_gunicorn(tmp_path, redis_server.url, worker_class, workers, **extra)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
