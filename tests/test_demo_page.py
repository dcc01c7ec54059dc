"""Dev mode's demo page: a number in, the SMS on a simulated phone, the code approved, limited or locked."""
from __future__ import annotations

import io
import os
import re
import sys
import time

import pytest

from otpgw import create_app
from otpgw.config import load_settings
from otpgw.domain.sms import Message
from otpgw.transports.console import ConsoleTransport
from otpgw.web.demo import Inbox

from conftest import PHONE, ChildProcess, free_port
from support.browser import browser, screenshot  # noqa: F401 (a fixture)


class TestInbox:
    """The console transport writes to the inbox, which keeps the messages and still echoes them."""

    def message(self, text: str, reference: str = "a" * 32) -> Message:
        return Message(PHONE, text, reference, int(time.time() * 1000) + 60_000)

    def test_messages_are_kept_masked_and_echoed(self):
        echo = io.StringIO()
        inbox = Inbox(echo=echo)
        console = ConsoleTransport(inbox)
        console.send(self.message("123456 is your code.\n@example.com #123456"))
        console.send(self.message("654321 is your code.\n\nFA+9qCX9VSu", "b" * 32))
        first, second = inbox.messages()
        assert first["to"] == "+141*****671" and first["text"] == "123456 is your code.\n@example.com #123456"
        assert second["text"].endswith("\n\nFA+9qCX9VSu") and second["reference"] == "b" * 32
        assert inbox.messages(after=first["n"]) == [second]
        assert "[otpgw console SMS]" in echo.getvalue() and PHONE not in echo.getvalue()

    def test_the_inbox_keeps_only_the_newest(self):
        inbox = Inbox(size=3)
        console = ConsoleTransport(inbox)
        for n in range(5):
            console.send(self.message(f"{n}00000 is your code."))
        assert [m["text"][0] for m in inbox.messages()] == ["2", "3", "4"]


class TestDemoRoutes:
    """The page and the inbox exist in dev mode only."""

    def test_outside_dev_mode_there_is_no_demo(self, client):
        assert client.get("/").status_code == 404 and client.get("/demo/inbox").status_code == 404

    def test_in_dev_mode_the_page_and_the_inbox_answer(self):
        inbox = Inbox()
        app = create_app(load_settings(environ={}, dev=True), embedded=True, inbox=inbox)
        client = app.test_client()
        with client.get("/") as page:
            assert page.status_code == 200 and b"Sign in with a one-time code" in page.data
        ConsoleTransport(inbox).send(Message(PHONE, "123456 is your code.", "c" * 32, 0))
        assert client.get("/demo/inbox?after=0").get_json()["messages"][0]["text"] == "123456 is your code."
        assert client.get("/demo/inbox?after=x").status_code == 400


@pytest.fixture
def dev_server():
    """``otpgw dev`` on a free port, as a newcomer runs it (lockout after two wrong codes)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGW_")}
    env.update(PYTHONUNBUFFERED="1", OTPGW_LOCKOUT_THRESHOLD="2")
    process = ChildProcess([sys.executable, "-m", "otpgw.cli", "dev", "--port", str(port)], env)
    process.wait_for(lambda: "demo page:" in process.output, what="the dev banner")
    yield f"http://127.0.0.1:{port}", process
    process.stop()


def code_on_the_phone(page, count: int) -> str:
    """Wait for the ``count``-th message on the simulated phone; the code in it."""
    page.wait_for_function(f"document.querySelectorAll('#inbox .sms').length >= {count}", timeout=10_000)
    text = page.locator("#inbox .sms").nth(count - 1).inner_text()
    return re.search(r"\b(\d{6,10})\b", text).group(1)


def outcome(page, expected: str) -> str:
    page.wait_for_function(f"document.getElementById('outcome').textContent.includes({expected!r})", timeout=10_000)
    return page.inner_text("#outcome")


@pytest.mark.slow
class TestInChromium:
    """A newcomer's first minute with otpgw, in headless Chromium against ``otpgw dev``."""

    def test_send_watch_the_phone_type_the_code(self, dev_server, browser):  # noqa: F811
        base, process = dev_server
        page = browser.new_page()
        page.goto(base + "/")
        page.fill("#phone", PHONE)
        page.click("#send")
        code = code_on_the_phone(page, 1)
        assert "+141*****671" in page.inner_text("#inbox") and code in process.output  # the console too
        page.fill("#code", f"{(int(code) + 1) % 10**6:06d}")
        page.click("#verify")
        assert "4 attempt(s) left" in outcome(page, "Wrong code")
        page.fill("#code", code)
        page.click("#verify")
        outcome(page, "Approved")
        screenshot(page, "demo.png")
        page.click("#send")
        assert "resend_cooldown" in outcome(page, "Rate limited")
        page.close()

    def test_too_many_wrong_codes_lock_the_number(self, dev_server, browser):  # noqa: F811
        base, _ = dev_server
        page = browser.new_page()
        page.goto(base + "/")
        page.fill("#phone", "+14155552699")
        page.click("#send")
        code = code_on_the_phone(page, 1)
        for _ in range(2):
            page.fill("#code", f"{(int(code) + 1) % 10**6:06d}")
            page.click("#verify")
            time.sleep(0.3)
        assert re.search(r"Locked .* try again in \d+ s", outcome(page, "Locked"))
        screenshot(page, "demo-locked.png")
        page.close()
