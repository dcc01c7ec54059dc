"""What tests do again and again: issue a code, get a wrong one, wait for something, read errors.

Each helper asserts the step it takes succeeded, so a test reads as the behaviour it checks.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import AUTH, PHONE, send, sent_code


def wrong(code: str) -> str:
    """A code of the same length that is certainly not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def issue(app, client, phone: str = PHONE, **fields) -> tuple[str, str]:
    """Send a code and return (id, the code as the SMS carries it)."""
    code_id = issue_id(client, phone, **fields)
    return code_id, sent_code(app, code_id)


def issue_id(client, phone: str = PHONE, **fields) -> str:
    """Send a code and return its id."""
    reply = send(client, phone, **fields)
    assert reply.status_code == 202, reply.get_json()
    return reply.get_json()["id"]


def delivery(client, code_id: str, headers=None) -> dict:
    """The ``delivery`` object of ``GET /otp/<id>``."""
    reply = client.get(f"/otp/{code_id}", headers=headers or AUTH)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()["delivery"]


def error(reply) -> tuple[int, str]:
    return reply.status_code, reply.get_json()["error"]["code"]


def limit(reply) -> str:
    return reply.get_json()["error"]["details"]["limit"]


def retry_after(reply) -> int:
    """The Retry-After header, which must agree with the body's details."""
    header = int(reply.headers["Retry-After"])
    assert reply.get_json()["error"]["details"]["retry_after"] == header
    return header


def poll(condition, *, timeout: float = 10.0, step=None, what: str = "condition", interval: float = 0.02) -> None:
    """Call ``step`` (if any) until ``condition()`` holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if step is not None:
            step()
        else:
            time.sleep(interval)


def at_once(count: int, action):
    """Run ``action(i)`` in ``count`` threads released together; return the results."""
    start = threading.Barrier(count)

    def run(i: int):
        start.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
