"""The transport contract as the worker relies on it, and configuration from TOML tables."""
from __future__ import annotations

import pytest

from otpgw.config import SettingsError, TransportConfig
from otpgw.config.options import Options
from otpgw.domain.textcodec import Encoding
from otpgw.transports import build_transport, transport_class
from otpgw.transports.base import Transport
from otpgw.transports.gsm.settings import Mode, Strategy
from otpgw.transports.gsm.transport import ModemTransport


class TestContract:
    """``send`` returns a Receipt whose parts equal its carrier ids, in textcodec's Encoding."""

    @pytest.mark.parametrize(("text", "parts", "encoding"), [
        ("Your code is 123456", 1, Encoding.GSM7), ("x" * 161, 2, Encoding.GSM7),
        ("Код 123456", 1, Encoding.UCS2), ("😀" * 40, 2, Encoding.UCS2),  # 80 units: 66 + 14
    ], ids=["gsm7", "gsm7-two-parts", "ucs2", "emoji-two-parts"])
    def test_receipt(self, ready, message, text, parts, encoding):
        transport, _, _ = ready
        receipt = transport.send(message(text))
        assert receipt.parts == len(receipt.carrier_ids) == parts == message(text).parts
        assert receipt.encoding is encoding

    def test_every_message_gets_its_own_carrier_ids(self, ready, message):
        transport, _, _ = ready
        assert transport.send(message()).carrier_ids != transport.send(message()).carrier_ids

    def test_class_facts(self):
        assert transport_class("modem") is ModemTransport
        assert issubclass(ModemTransport, Transport)
        assert ModemTransport.type_name == "modem" and ModemTransport.host_bound

    def test_close_is_idempotent_and_health_says_not_ready(self, ready):
        transport, _, _ = ready
        transport.close()
        transport.close()
        assert not transport.health().ready


class TestConfig:
    """A ``[transports.<name>]`` table builds the transport; mistakes name the setting."""

    def build(self, **table):
        return ModemTransport.from_config("gsm", Options("transports.gsm", table))

    def test_full_table(self):
        transport = self.build(port="socket://127.0.0.1:7777", baudrate=9600, pin="1234", smsc="+491710760000",
                               mode="text", strategy="least_busy", command_timeout=2, send_timeout=30,
                               keepalive=10, reset_command="AT+CFUN=1,1", status_reports=False,
                               concat_reference=16, validity_max=600)
        settings = transport.settings
        assert settings.ports == ("socket://127.0.0.1:7777",)
        assert (settings.mode, settings.strategy, settings.concat_reference) == (Mode.TEXT, Strategy.LEAST_BUSY, 16)
        assert settings.cnmi_value == "2,1,0,0,0"
        assert [m.id for m in transport.modems] == ["gsm0"]

    def test_built_through_the_alias_table(self):
        transport = build_transport(TransportConfig("t", "modem", {"port": "/dev/ttyUSB0"}))
        assert isinstance(transport, ModemTransport) and transport.name == "t"
        with pytest.raises(SettingsError, match=r"transports\.t\.colour is not a known option"):
            build_transport(TransportConfig("t", "modem", {"port": "/dev/ttyUSB0", "colour": "blue"}))

    def test_pool_of_ports(self):
        transport = self.build(ports=["/dev/ttyUSB0", "/dev/ttyUSB2"])
        assert [m.id for m in transport.modems] == ["gsm0", "gsm1"]

    @pytest.mark.parametrize(("table", "words"), [
        ({}, "transports.gsm.port: set either port"),
        ({"port": "/dev/a", "ports": ["/dev/b"]}, "not both"),
        ({"port": "/dev/a", "pin": "12"}, "transports.gsm.pin"),
        ({"port": "/dev/a", "mode": "binary"}, "transports.gsm.mode"),
        ({"port": "/dev/a", "concat_reference": 12}, "transports.gsm.concat_reference"),
        ({"port": "/dev/a", "smsc": "0171"}, "transports.gsm.smsc"),
        ({"port": "/dev/a", "baudrat": 9600}, "did you mean 'baudrate'"),
    ])
    def test_bad_tables(self, table, words):
        with pytest.raises(SettingsError, match=words):
            self.build(**table)
