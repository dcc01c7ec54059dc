"""The settings file's sections and tables: [codes]-style sections, ${VAR} references,
[transports.<name>] and [[routes]]; every mistake stops the start naming where it is."""
from __future__ import annotations

import pytest

from otpgw.config import RouteConfig, SettingsError, load_settings

SECRET = "s" * 32
APP_KEY = "app-key-0123456789abcdef"
BASE = f'secret_keys = ["{SECRET}"]\napi_keys = {{app = "{APP_KEY}"}}\n'


@pytest.fixture
def settings_from(tmp_path):
    def load(text: str, **env: str):
        path = tmp_path / "otpgw.toml"
        path.write_text(BASE + text)
        return load_settings(environ={"OTPGW_CONFIG": str(path), **env})

    return load


class TestSections:
    """A section's table and the flat names mean the same settings."""

    def test_section_table_sets_its_fields(self, settings_from):
        s = settings_from("[codes]\nttl = 120\nlength = 8\n[lockout]\nthreshold = 4\n")
        assert (s.codes.ttl, s.codes.length, s.lockout.threshold) == (120, 8, 4)

    def test_environment_overrides_a_section_value(self, settings_from):
        assert settings_from("[codes]\nttl = 120\n", OTPGW_CODE_TTL="60").codes.ttl == 60

    def test_unknown_key_in_a_section_is_refused_with_a_suggestion(self, settings_from):
        with pytest.raises(SettingsError, match=r"codes\.lenght.*did you mean length"):
            settings_from("[codes]\nlenght = 8\n")

    def test_bad_value_in_a_section_names_the_setting_and_the_range(self, settings_from):
        with pytest.raises(SettingsError, match=r"OTPGW_CODE_LENGTH: 5 is outside 6\.\.10"):
            settings_from("[codes]\nlength = 5\n")

    def test_secrets_never_show_in_the_settings_repr(self, settings_from):
        s = settings_from('redis_password = "hunter2-hunter2"\n[transports.tw]\ntype = "fake"\n'
                          'token = "carrier-secret"\n')
        assert SECRET not in repr(s) and APP_KEY not in repr(s)
        assert "hunter2" not in repr(s) and "carrier-secret" not in repr(s)


class TestEnvironmentReferences:
    """"${VAR}" in the file is replaced from the environment at start-up."""

    def test_reference_is_replaced_inside_a_string(self, settings_from):
        s = settings_from('[redis]\nurl = "redis://:${REDIS_PASS}@cache:6379/0"\n', REDIS_PASS="pw")
        assert s.redis.url == "redis://:pw@cache:6379/0"

    def test_reference_in_a_transport_table_is_replaced(self, settings_from):
        s = settings_from('[transports.tw]\ntype = "fake"\ntoken = "${TOKEN}"\n', TOKEN="abc")
        assert s.transports["tw"].options["token"] == "abc"

    def test_missing_variable_stops_the_start_naming_it_and_where(self, settings_from):
        with pytest.raises(SettingsError) as raised:
            settings_from('[transports.tw]\ntype = "fake"\ntoken = "${TWILIO_TOKEN}"\n')
        assert "TWILIO_TOKEN" in str(raised.value) and "transports" in str(raised.value)

    def test_double_dollar_writes_a_literal(self, settings_from):
        assert settings_from('brand = "$${NOT_A_VAR}"\n').codes.brand == "${NOT_A_VAR}"


class TestTransportsAndRoutes:
    """[transports.<name>] tables and [[routes]]: checked at start-up, defaults when absent."""

    def test_without_tables_the_transport_setting_is_one_route(self, settings_from):
        s = settings_from("")
        assert list(s.transports) == ["console"] and s.transports["console"].type == "console"
        assert s.routes == (RouteConfig(transports=("console",)),)

    def test_tables_and_routes_are_read_in_order(self, settings_from):
        s = settings_from('[transports.a]\ntype = "fake"\n[transports.b]\ntype = "fake"\n'
                          '[[routes]]\ncountries = ["de", "AT"]\ntransports = ["a", "b"]\n'
                          '[[routes]]\nprefixes = ["1900"]\nnumber_types = ["mobile"]\nencodings = ["gsm7"]\n'
                          'max_parts = 2\ntransports = ["b"]\n')
        assert list(s.transports) == ["a", "b"]
        assert s.routes[0] == RouteConfig(transports=("a", "b"), countries=("DE", "AT"))
        assert s.routes[1] == RouteConfig(transports=("b",), prefixes=("+1900",), number_types=("mobile",),
                                          encodings=("gsm7",), max_parts=2)

    def test_without_routes_every_transport_is_tried_in_file_order(self, settings_from):
        s = settings_from('[transports.a]\ntype = "fake"\n[transports.b]\ntype = "console"\n')
        assert s.routes == (RouteConfig(transports=("a", "b")),)

    def test_transport_setting_chooses_among_configured_transports(self, settings_from):
        s = settings_from('[transports.a]\ntype = "fake"\n[transports.b]\ntype = "fake"\n', OTPGW_TRANSPORT="b")
        assert s.routes == (RouteConfig(transports=("b",)),)

    def test_route_naming_an_unknown_transport_is_refused(self, settings_from):
        with pytest.raises(SettingsError, match=r"routes\[0\]\.transports: carrier not configured"):
            settings_from('[transports.a]\ntype = "fake"\n[[routes]]\ntransports = ["carrier"]\n')

    def test_transport_without_type_is_refused(self, settings_from):
        with pytest.raises(SettingsError, match=r"transports\.a\.type is required"):
            settings_from('[transports.a]\ntoken = "x"\n')

    @pytest.mark.parametrize(("key", "value", "match"), [
        ("number_types", '["premium"]', r"routes\[0\]\.number_types"),
        ("encodings", '["utf8"]', r"routes\[0\]\.encodings"),
        ("countries", '["DEU"]', r"routes\[0\]\.countries"),
        ("max_parts", "-1", r"routes\[0\]\.max_parts"),
        ("contries", '["DE"]', r"routes\[0\]\.contries.*did you mean 'countries'"),
    ])
    def test_bad_route_keys_are_refused_naming_them(self, settings_from, key, value, match):
        with pytest.raises(SettingsError, match=match):
            settings_from(f'[transports.a]\ntype = "fake"\n[[routes]]\ntransports = ["a"]\n{key} = {value}\n')
