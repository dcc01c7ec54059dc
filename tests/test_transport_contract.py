"""One contract, every transport: what the delivery worker may rely on whichever one it calls.

Each case builds a transport from its own config table (as the worker does), gives a way
to read what reached the far side, and is then held to the same rules: a ``Receipt``
whose parts and encoding match the text, both alphabets carried, errors only from the
transport error tree, options checked at start-up. Cases for carriers and modems join
this list as those transports arrive.
"""
from __future__ import annotations

import copy
import io
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from otpgw.config import SettingsError, TransportConfig
from otpgw.domain.sms import Message, Receipt
from otpgw.domain.textcodec import Encoding, segment_count
from otpgw.transports import Transport, TransportHealth, build_transport
from otpgw.transports.console import ConsoleTransport

from conftest import PHONE
from support.carriers import GenericCarrier, TwilioCarrier, VonageCarrier
from support.modem_sim import SimModem

GSM_TEXT = "123456 is your otpgw code. It expires in 5 min. Do not share it."
UCS2_TEXT = "Код otpgw: 123456 (5 мин). Никому не сообщайте. 🔐"
LONG_TEXT = "Your code is 123456. " * 12  # 252 GSM-7 characters: two parts


@dataclass
class Case:
    """A transport under contract, and how to read the texts that reached the far side."""

    transport: Transport
    delivered: Callable[[], list[str]]
    close: Callable[[], None] = lambda: None


def console_case() -> Case:
    out = io.StringIO()
    transport = ConsoleTransport(stream=out, name="console")
    return Case(transport, lambda: [block for block in out.getvalue().split("[otpgw console SMS]") if block])


def fake_case() -> Case:
    transport = build_transport(TransportConfig("fake", "fake", {}))
    return Case(transport, lambda: [m.text for m in transport.sent])


def twilio_table(url: str) -> dict:
    return {"account_sid": TwilioCarrier.ACCOUNT_SID, "auth_token": TwilioCarrier.AUTH_TOKEN,
            "from": "+15017122661", "base_url": url}


def twilio_case() -> Case:
    carrier = TwilioCarrier().start()
    transport = build_transport(TransportConfig("tw", "twilio", twilio_table(carrier.url)))
    return Case(transport, lambda: [m["body"] for m in carrier.messages], close=carrier.close)


def vonage_table(url: str) -> dict:
    return {"api_key": VonageCarrier.API_KEY, "api_secret": VonageCarrier.API_SECRET, "from": "Acme", "base_url": url}


def vonage_case() -> Case:
    carrier = VonageCarrier().start()
    transport = build_transport(TransportConfig("vn", "vonage", vonage_table(carrier.url)))
    return Case(transport, lambda: [r.form["text"] for r in carrier.requests], close=carrier.close)


def http_table(url: str) -> dict:
    return {"request": {"url": f"{url}/v1/messages", "auth": {"type": "bearer", "token": GenericCarrier.TOKEN},
                        "fields": {"to": "{to}", "text": "{text}", "reference": "{reference}"}},
            "response": {"success_status": [201], "id_path": "message.id"}}


def http_case() -> Case:
    carrier = GenericCarrier().start()
    transport = build_transport(TransportConfig("acme", "http", http_table(carrier.url)))
    return Case(transport, lambda: [r.json["text"] for r in carrier.requests], close=carrier.close)


def modem_case() -> Case:
    from otpgw.transports.gsm import pdu

    directory = tempfile.mkdtemp()
    sim = SimModem(directory).start()
    transport = build_transport(TransportConfig("gsm", "modem", {"port": sim.path, "ready_wait": 5.0}))
    transport.start(lambda event: None)

    def texts() -> list[str]:
        return [pdu.decode(s.pdu).user_data.text for s in sim.submitted]

    def close() -> None:
        sim.stop()
        shutil.rmtree(directory, ignore_errors=True)

    return Case(transport, texts, close=close)


CASES = {"console": console_case, "fake": fake_case, "twilio": twilio_case, "vonage": vonage_case,
         "http": http_case, "modem": modem_case}
# the smallest valid table of each type, to which a test adds one bad key
BASE_TABLES = {"console": {}, "fake": {}, "twilio": twilio_table("http://127.0.0.1:9"),
               "vonage": vonage_table("http://127.0.0.1:9"), "http": http_table("http://127.0.0.1:9"),
               "modem": {"port": "/dev/ttyUSB0"}}


@pytest.fixture(params=sorted(CASES))
def case(request):
    built = CASES[request.param]()
    yield built
    built.transport.close()
    built.close()


def message(text: str, reference: str = "a" * 32) -> Message:
    return Message(PHONE, text, reference, int(time.time() * 1000) + 300_000)


class TestTransportContract:
    """Every transport keeps the contract of otpgw.transports.base."""

    def test_receipt_names_parts_and_encoding_of_a_gsm_text(self, case):
        receipt = case.transport.send(message(GSM_TEXT))
        assert isinstance(receipt, Receipt)
        assert receipt.encoding is Encoding.GSM7 and receipt.parts == 1
        assert all(isinstance(i, str) and i for i in receipt.carrier_ids)
        assert any(GSM_TEXT in text for text in case.delivered())

    def test_ucs2_text_is_carried_and_counted(self, case):
        receipt = case.transport.send(message(UCS2_TEXT))
        assert receipt.encoding is Encoding.UCS2 and receipt.parts == segment_count(UCS2_TEXT)
        assert any("Никому не сообщайте" in text for text in case.delivered())

    def test_long_text_counts_its_parts(self, case):
        receipt = case.transport.send(message(LONG_TEXT))
        assert receipt.parts == 2
        assert len(receipt.carrier_ids) in (0, 1, 2)  # none, one per message, or one per part
        assert "".join(case.delivered()).count("Your code is 123456") == 12  # every part arrived

    def test_every_message_gets_its_own_carrier_ids(self, case):
        first = case.transport.send(message(GSM_TEXT, "a" * 32))
        second = case.transport.send(message(GSM_TEXT, "b" * 32))
        assert not first.carrier_ids or first.carrier_ids != second.carrier_ids

    def test_health_is_reported_without_raising(self, case):
        health = case.transport.health()
        assert isinstance(health, TransportHealth) and isinstance(health.ready, bool)

    def test_close_twice_is_harmless(self, case):
        case.transport.close()
        case.transport.close()


class TestTransportOptions:
    """A transport reads its own table; a typo stops the start naming the key."""

    @pytest.mark.parametrize("type_name", sorted(CASES))
    def test_unknown_option_is_refused_naming_it(self, type_name):
        table = {**copy.deepcopy(BASE_TABLES[type_name]), "colour": "blue"}
        with pytest.raises(SettingsError, match=r"transports\.t\.colour is not a known option"):
            build_transport(TransportConfig("t", type_name, table))

    def test_unknown_type_names_the_table_and_suggests(self):
        with pytest.raises(SettingsError, match=r"transports\.t\.type: unknown transport 'twillio'.*'twilio'"):
            build_transport(TransportConfig("t", "twillio", {"account_sid": "x"}))
