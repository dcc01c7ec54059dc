"""The example login app (examples/flask_login) signs a user in through otpgw.client against ``otpgw dev``."""
from __future__ import annotations

import importlib.util
import os
import re
import sys

import pytest

from conftest import ROOT, ChildProcess, free_port

pytestmark = pytest.mark.slow  # a real `otpgw dev` process


def load_example():
    spec = importlib.util.spec_from_file_location("example_login", ROOT / "examples/flask_login/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def otpgw_dev():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
    env["PYTHONUNBUFFERED"] = "1"
    process = ChildProcess([sys.executable, "-m", "otpgw.cli", "dev", "--port", str(port)], env)
    process.wait_for(lambda: "listening on" in process.output, what="the dev banner")
    yield f"http://127.0.0.1:{port}", process
    process.stop()


def last_code(process, count: int) -> str:
    """The code of the ``count``-th SMS the dev console printed."""
    process.wait_for(lambda: process.output.count("[otpgw console SMS]") >= count, what=f"SMS number {count}")
    text = process.output.split("[otpgw console SMS]")[count]
    return re.search(r"\b(\d{6,10})\b", text.split(":", 1)[1]).group(1)


class TestExampleLogin:
    """Password, then the SMS code: the user is signed in; a wrong password sends nothing."""

    def test_password_then_code_signs_in(self, otpgw_dev):
        base, process = otpgw_dev
        sent_before = process.output.count("[otpgw console SMS]")
        client = load_example().create_app(base, "any-key-in-dev-mode").test_client()
        reply = client.post("/login", data={"username": "alice", "password": "correct horse"})
        assert reply.status_code == 302 and reply.headers["Location"].endswith("/verify")
        code = last_code(process, sent_before + 1)
        wrong = client.post("/verify", data={"code": f"{(int(code) + 1) % 10**6:06d}"})
        assert wrong.status_code == 401 and b"Wrong code." in wrong.data
        signed_in = client.post("/verify", data={"code": code}, follow_redirects=True)
        assert signed_in.status_code == 200 and b"Signed in as alice." in signed_in.data

    def test_a_wrong_password_sends_no_code(self, otpgw_dev):
        base, process = otpgw_dev
        before = process.output.count("[otpgw console SMS]")
        client = load_example().create_app(base, "any-key-in-dev-mode").test_client()
        reply = client.post("/login", data={"username": "alice", "password": "wrong"})
        assert reply.status_code == 401 and b"Wrong user or password." in reply.data
        assert process.output.count("[otpgw console SMS]") == before

    def test_a_second_login_within_the_cooldown_is_told_to_wait(self, otpgw_dev):
        base, _ = otpgw_dev
        client = load_example().create_app(base, "any-key-in-dev-mode").test_client()
        client.post("/login", data={"username": "alice", "password": "correct horse"})
        again = client.post("/login", data={"username": "alice", "password": "correct horse"})
        assert again.status_code == 429 and b"Too many codes; try again in" in again.data
