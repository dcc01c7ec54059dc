"""Fixtures for the modem transport: simulated modems on ptys and transports on them.

Timeouts are short (a fraction of a second) so the directory runs in seconds; every sim
and transport made here is closed at teardown, transports first.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from otpgw.domain.sms import DeliveryReport, InboundMessage, Message
from otpgw.transports.gsm.settings import ModemSettings
from otpgw.transports.gsm.transport import ModemTransport

from support.modem_sim import SimModem

PHONE = "+4915112345678"
FAST = dict(command_timeout=0.5, send_timeout=1.0, ready_wait=3.0, keepalive=0.3, registration_timeout=2.0,
            registration_poll=0.05, reopen_backoff=0.05, reopen_backoff_max=0.2, reset_wait=0.1,
            reassembly_timeout=1.0, fallback_baudrates=())


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def make_message(text: str = "Your code is 123456", *, to: str = PHONE, ttl_s: int = 300,
                 reference: str = "otp-1") -> Message:
    return Message(to, text, reference, int(time.time() * 1000) + ttl_s * 1000)


@pytest.fixture
def message():
    """``message(text, to=, ttl_s=, reference=)``: a Message whose code lives ``ttl_s`` more seconds."""
    return make_message


@pytest.fixture
def wait():
    """``wait(predicate, timeout=5)``: poll until true; the result of the last poll."""
    return wait_until


class Events(list):
    """What a transport handed its sink, with waits for the asynchronous ones."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.append(event)

    @property
    def reports(self) -> list[DeliveryReport]:
        return [e for e in self if isinstance(e, DeliveryReport)]

    @property
    def inbound(self) -> list[InboundMessage]:
        return [e for e in self if isinstance(e, InboundMessage)]

    def wait_reports(self, count: int, timeout: float = 3.0) -> list[DeliveryReport]:
        assert wait_until(lambda: len(self.reports) >= count, timeout), f"{len(self.reports)} of {count} reports"
        return self.reports

    def wait_inbound(self, count: int, timeout: float = 3.0) -> list[InboundMessage]:
        assert wait_until(lambda: len(self.inbound) >= count, timeout), f"{len(self.inbound)} of {count} inbound"
        return self.inbound


@pytest.fixture
def sims(tmp_path):
    """``sims(**options)`` starts a simulated modem; all are stopped at teardown."""
    made: list[SimModem] = []

    def make(**options) -> SimModem:
        sim = SimModem(tmp_path, name=f"modem{len(made)}", **options).start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def sim(sims) -> SimModem:
    return sims()


@pytest.fixture
def transports(sims):
    """``transports(*sims_or_paths, **settings)`` -> (started transport, events)."""
    made: list[ModemTransport] = []

    def make(*ports, name: str = "gsm", start: bool = True, index=None, **overrides):
        paths = tuple(p.path if isinstance(p, SimModem) else str(p) for p in ports)
        transport = ModemTransport(name, ModemSettings(ports=paths, **{**FAST, **overrides}), index=index)
        made.append(transport)
        events = Events()
        if start:
            transport.start(events)
        return transport, events

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def ready(transports, sim):
    """A started transport on one simulated modem, ready to send: (transport, events, sim)."""
    transport, events = transports(sim)
    assert wait_until(lambda: transport.health().ready), transport.health()
    return transport, events, sim
