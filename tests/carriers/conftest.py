"""Fixtures of the carrier tests: fake carriers on loopback ports, a real Kannel.

The fake carriers live for one test each (they are cheap); Kannel (bearerbox, smsbox,
fakesmsc) starts once per session, with a recorder for the callbacks it makes. Tests
that use the real Kannel are marked ``slow`` (subprocesses, as pyproject defines it).
"""
from __future__ import annotations

import secrets

import pytest

from otpgw.domain.signing import CallbackTokens
from otpgw.domain.sms import Message

from support.carriers import CallbackRecorder, GenericCarrier, TwilioCarrier, VonageCarrier
from support.kannel import KannelGateway

PHONE = "+14155552671"
PUBLIC_URL = "https://otp.example.com"
KANNEL_INBOUND_TOKEN = "kannel-inbound-token-0123"


@pytest.fixture
def tokens():
    return CallbackTokens(("callback-secret-0123456789",))


@pytest.fixture
def make_message(clock, tokens):
    """Messages as the worker builds them: a fresh reference, a deadline ``ttl_s`` from
    the test clock, this transport's callback URL and token."""
    def build(transport: str, text: str = "Your code is 482913", *, to: str = PHONE, ttl_s: float = 300,
              sender: str = "", callback_url: str | None = None, reference: str = "") -> Message:
        reference = reference or secrets.token_hex(16)
        base = f"{PUBLIC_URL}/callbacks/{transport}" if callback_url is None else callback_url
        return Message(to, text, reference, int((clock() + ttl_s) * 1000), sender, base,
                       tokens.sign(transport, reference))

    return build


@pytest.fixture
def twilio_carrier():
    with TwilioCarrier() as carrier:
        yield carrier


@pytest.fixture
def vonage_carrier():
    with VonageCarrier() as carrier:
        yield carrier


@pytest.fixture
def generic_carrier():
    with GenericCarrier() as carrier:
        yield carrier


@pytest.fixture(scope="session")
def kannel_callbacks():
    """Where Kannel calls back: dlr-url and the sms-service get-url point here."""
    with CallbackRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="session")
def kannel(kannel_callbacks):
    mo_url = (f"{kannel_callbacks.url}/callbacks/kn/inbound?token={KANNEL_INBOUND_TOKEN}"
              "&from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I")
    with KannelGateway(mo_url=mo_url) as gateway:
        yield gateway
