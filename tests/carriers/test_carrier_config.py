"""Carrier transports are built from their ``[transports.<name>]`` tables, and a bad table
stops the start with a sentence that names the setting."""
from __future__ import annotations

import pytest

from otpgw.config import SettingsError, TransportConfig
from otpgw.transports import build_transport
from otpgw.transports.http.generic import TemplatedHttpTransport
from otpgw.transports.http.kannel import KannelTransport
from otpgw.transports.http.twilio import TwilioTransport
from otpgw.transports.http.vonage import VonageTransport

from support.carriers import TwilioCarrier

TWILIO = {"account_sid": TwilioCarrier.ACCOUNT_SID, "auth_token": "token-secret-1", "from": "+15017122661"}
VONAGE = {"api_key": "abcd1234", "api_secret": "vonage-secret-1", "signature_secret": "sig-secret-1",
          "signature_method": "sha256", "from": "Acme"}
KANNEL = {"url": "http://kannel:13013/cgi-bin/sendsms", "username": "otpgw", "password": "kannel-secret-1",
          "from": "ACME"}
HTTP = {"request": {"url": "https://api.acme.example/v1/sms", "auth": {"type": "bearer", "token": "http-secret-1"},
                    "fields": {"to": "{to}", "text": "{text}"}}}
TABLES = {"twilio": TWILIO, "vonage": VONAGE, "kannel": KANNEL, "http": HTTP}
CLASSES = {"twilio": TwilioTransport, "vonage": VonageTransport, "kannel": KannelTransport,
           "http": TemplatedHttpTransport}


def build(type_name: str, name: str = "t", **changes):
    table = {**TABLES[type_name], **changes}
    return build_transport(TransportConfig(name, type_name, {k: v for k, v in table.items() if v is not None}))


class TestEveryCarrier:
    @pytest.mark.parametrize("type_name", sorted(TABLES))
    def test_the_registry_builds_each_profile_from_its_table(self, type_name):
        transport = build(type_name, connect_timeout=2, read_timeout=4, max_connections=5)
        try:
            assert type(transport) is CLASSES[type_name] and transport.name == "t"
            assert transport.client.options.read_timeout == 4.0
        finally:
            transport.close()

    @pytest.mark.parametrize("type_name", sorted(TABLES))
    def test_health_shows_where_it_points_and_no_secret(self, type_name):
        transport = build(type_name)
        health = transport.health()
        transport.close()
        transport.close()  # twice is harmless
        assert health.ready and health.facts["host"]
        assert "secret" not in repr(health)

    @pytest.mark.parametrize("type_name", sorted(TABLES))
    def test_a_misspelt_option_gets_a_did_you_mean(self, type_name):
        with pytest.raises(SettingsError, match=r"transports\.t\.read_timout is not a known option; "
                                                r"did you mean 'read_timeout'\?"):
            build(type_name, read_timout=3)

    @pytest.mark.parametrize("key, value, sentence", [
        ("read_timeout", 0, r"transports\.t\.read_timeout: 0\.0 is outside"),
        ("max_connections", "many", r"transports\.t\.max_connections: 'many' is not a valid int"),
    ])
    def test_client_options_are_checked(self, key, value, sentence):
        with pytest.raises(SettingsError, match=sentence):
            build("twilio", **{key: value})


class TestTwilioTable:
    def test_a_missing_account_sid_names_the_setting(self):
        with pytest.raises(SettingsError, match=r"^transports\.tw\.account_sid is required$"):
            build("twilio", "tw", account_sid=None)

    @pytest.mark.parametrize("changes, sentence", [
        ({"account_sid": "AC123"}, r"transports\.t\.account_sid: 'AC123' is not valid: AC followed by 32 hex"),
        ({"auth_token": None}, r"transports\.t\.auth_token: is required \(or api_key_sid and api_key_secret\)"),
        ({"auth_token": ""}, r"transports\.t\.auth_token: must be a non-empty string"),
        ({"api_key_sid": TwilioCarrier.API_KEY_SID}, r"transports\.t\.api_key_secret: api_key_sid and api_key_secret"),
        ({"from": None}, r"transports\.t\.from: is required \(or messaging_service_sid\)"),
        ({"messaging_service_sid": "MG1"}, r"transports\.t\.messaging_service_sid: 'MG1' is not valid"),
        ({"base_url": "api.twilio.com"}, r"transports\.t\.base_url: 'api\.twilio\.com' is not an absolute"),
        ({"auth_tokn": "x"}, r"transports\.t\.auth_tokn is not a known option; did you mean 'auth_token'\?"),
    ])
    def test_a_bad_table_is_refused_with_a_sentence(self, changes, sentence):
        with pytest.raises(SettingsError, match=sentence):
            build("twilio", **changes)

    def test_an_api_key_or_a_messaging_service_may_stand_in(self):
        transport = build("twilio", auth_token=None, api_key_sid=TwilioCarrier.API_KEY_SID, api_key_secret="k",
                          **{"from": None, "messaging_service_sid": "MG" + "0" * 32})
        transport.close()
        assert transport.messaging_service_sid == "MG" + "0" * 32


class TestVonageTable:
    @pytest.mark.parametrize("changes, sentence", [
        ({"api_secret": None}, r"^transports\.t\.api_secret is required$"),
        ({"from": None}, r"^transports\.t\.from is required$"),
        ({"from": "+4477009"}, r"transports\.t\.from: '\+4477009' is not valid: a number without \+"),
        ({"signature_method": "sha384"}, r"transports\.t\.signature_method: use md5hash, md5, sha1, sha256 or sha512"),
        ({"callback_window": 1}, r"transports\.t\.callback_window: 1\.0 is outside"),
    ])
    def test_a_bad_table_is_refused_with_a_sentence(self, changes, sentence):
        with pytest.raises(SettingsError, match=sentence):
            build("vonage", **changes)


class TestKannelTable:
    @pytest.mark.parametrize("changes, sentence", [
        ({"url": None}, r"^transports\.t\.url is required$"),
        ({"password": None}, r"^transports\.t\.password is required$"),
        ({"method": "PUT"}, r"transports\.t\.method: use GET or POST"),
        ({"dlr_mask": 32}, r"transports\.t\.dlr_mask: 32 is outside 0\.\.31"),
    ])
    def test_a_bad_table_is_refused_with_a_sentence(self, changes, sentence):
        with pytest.raises(SettingsError, match=sentence):
            build("kannel", **changes)
