"""Settings: read once from OTPGW_* and an optional TOML file; a bad value stops the start."""
from __future__ import annotations

import logging
import os

import pytest

from otpgw import cli
from otpgw.config import Settings, SettingsError, load_settings
from otpgw.transports import transport_class
from otpgw.transports.console import ConsoleTransport

SECRET = "s" * 32
OLD_SECRET = "o" * 32
APP_KEY = "app-key-0123456789abcdef"
OPS_KEY = "ops-key-0123456789abcdef"
BASE_ENV = {"OTPGW_SECRET_KEYS": SECRET, "OTPGW_API_KEYS": f"app:{APP_KEY}"}


def from_env(**env: str) -> Settings:
    return load_settings(environ={**BASE_ENV, **{f"OTPGW_{k.upper()}": v for k, v in env.items()}})


@pytest.fixture
def toml_file(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "otpgw.toml"
        path.write_text(text)
        return str(path)

    return write


class TestDefaults:
    """Without configuration the rules of DESIGN.md apply."""

    def test_defaults_match_the_design(self):
        s = load_settings(environ=BASE_ENV)
        assert (s.codes.length, s.codes.ttl, s.codes.max_ttl, s.codes.max_attempts) == (6, 300, 600, 5)
        assert (s.limits.resend_cooldown, s.limits.send_window, s.limits.send_window_max) == (30, 600, 5)
        assert (s.lockout.threshold, s.lockout.window, s.lockout.base, s.lockout.max) == (10, 3600, 3600, 86400)
        assert (s.codes.retention, s.delivery.transport, s.codes.default_locale, s.api.max_body_bytes) == (86400, "console", "en", 4096)
        assert (s.dev, s.api.allow_unauthenticated, s.redis.cluster, s.numbers.refuse_landlines) == (False, False, False, False)
        assert s.numbers.allowed_countries == () and s.numbers.country_daily_limits == () and s.numbers.default_region == ""

    def test_settings_are_frozen(self):
        s = load_settings(environ=BASE_ENV)
        with pytest.raises(AttributeError):
            s.codes.length = 8  # type: ignore[misc]

    def test_unlisted_country_has_the_general_daily_limit(self):
        s = from_env(country_daily_limit="100", country_daily_limits="US=5")
        assert (s.numbers.daily_limit_for("US"), s.numbers.daily_limit_for("FR")) == (5, 100)


class TestEnvironment:
    """OTPGW_* strings become ints, floats, bools, lists and name:key pairs."""

    def test_integers_and_floats_are_parsed(self):
        s = from_env(code_length="8", code_ttl="120", redis_timeout="1.5", max_body_bytes="8192")
        assert (s.codes.length, s.codes.ttl, s.redis.timeout, s.api.max_body_bytes) == (8, 120, 1.5, 8192)

    @pytest.mark.parametrize(("text", "value"), [("true", True), ("1", True), ("YES", True), ("on", True),
                                                 ("false", False), ("0", False), ("no", False), ("off", False)])
    def test_booleans_are_parsed(self, text, value):
        assert from_env(refuse_landlines=text).numbers.refuse_landlines is value

    def test_lists_are_split_trimmed_and_countries_upper_cased(self):
        s = from_env(allowed_countries=" us, gb ,,de", redis_sentinels="s1:26379, s2:26379")
        assert s.numbers.allowed_countries == ("US", "GB", "DE")
        assert s.redis.sentinels == ("s1:26379", "s2:26379")

    def test_secret_keys_keep_their_order_newest_first(self):
        s = from_env(secret_keys=f"{SECRET},{OLD_SECRET}")
        assert s.secrets.keys == (SECRET, OLD_SECRET)
        assert s.secrets.current_key == SECRET.encode()

    def test_api_keys_are_name_key_pairs(self):
        s = from_env(api_keys=f"app:{APP_KEY}, ops:{OPS_KEY}")
        assert dict(s.api.keys) == {"app": APP_KEY, "ops": OPS_KEY}

    def test_api_key_containing_equals_signs_is_kept_verbatim(self):
        padded = "c2VjcmV0LWtleS0wMTIzNDU2Nzg5YWI="  # base64 with padding, as `openssl rand -base64` gives
        s = from_env(api_keys=f"app:{padded}")
        assert dict(s.api.keys) == {"app": padded}

    def test_country_limits_are_parsed(self):
        s = from_env(country_daily_limits="US=5,gb=2")
        assert dict(s.numbers.country_daily_limits) == {"US": 5, "GB": 2}
        assert (s.numbers.daily_limit_for("US"), s.numbers.daily_limit_for("GB"), s.numbers.daily_limit_for("FR")) == (5, 2, 0)

    def test_unrelated_variables_are_ignored(self):
        s = load_settings(environ={**BASE_ENV, "PATH": "/bin", "OTPGW": "x"})
        assert s.codes.length == 6


class TestTomlFile:
    """OTPGW_CONFIG names a TOML file; its tables hold pairs; the environment overrides it."""

    def test_file_values_and_tables_are_read(self, toml_file):
        path = toml_file(f"""
secret_keys = ["{SECRET}", "{OLD_SECRET}"]
code_ttl = 120
refuse_landlines = true
allowed_countries = ["us", "gb"]

[api_keys]
app = "{APP_KEY}"
ops = "{OPS_KEY}"

[country_daily_limits]
US = 5
GB = 2
""")
        s = load_settings(environ={"OTPGW_CONFIG": path})
        assert s.secrets.keys == (SECRET, OLD_SECRET)
        assert (s.codes.ttl, s.numbers.refuse_landlines, s.numbers.allowed_countries) == (120, True, ("US", "GB"))
        assert dict(s.api.keys) == {"app": APP_KEY, "ops": OPS_KEY}
        assert dict(s.numbers.country_daily_limits) == {"US": 5, "GB": 2}

    def test_environment_overrides_the_file(self, toml_file):
        path = toml_file(f'secret_keys = ["{SECRET}"]\ncode_ttl = 120\ncode_length = 8\n'
                         f'[api_keys]\napp = "{APP_KEY}"\n')
        s = load_settings(environ={"OTPGW_CONFIG": path, "OTPGW_CODE_TTL": "240"})
        assert (s.codes.ttl, s.codes.length) == (240, 8)

    def test_overrides_win_over_environment_and_file(self, toml_file):
        path = toml_file(f'secret_keys = ["{SECRET}"]\ncode_ttl = 120\n[api_keys]\napp = "{APP_KEY}"\n')
        s = load_settings(environ={"OTPGW_CONFIG": path, "OTPGW_CODE_TTL": "240"}, code_ttl=60)
        assert s.codes.ttl == 60


def bad(setting: str, env: dict[str, str] | None = None, toml: str | None = None, **overrides):
    """A table row: environment and/or TOML text and/or overrides, and the setting the sentence names."""
    return (env or {}, toml, overrides, setting)


BAD_VALUES = [
    pytest.param(*bad("OTPGW_CODE_LENGTH", {"OTPGW_CODE_LENGTH": "5"}), id="code-length-5"),
    pytest.param(*bad("OTPGW_CODE_LENGTH", {"OTPGW_CODE_LENGTH": "11"}), id="code-length-11"),
    pytest.param(*bad("OTPGW_CODE_TTL", {"OTPGW_CODE_TTL": "0"}), id="code-ttl-0"),
    pytest.param(*bad("OTPGW_CODE_TTL", {"OTPGW_CODE_TTL": "601"}), id="code-ttl-over-default-max"),
    pytest.param(*bad("OTPGW_CODE_TTL", {"OTPGW_CODE_TTL": "400", "OTPGW_MAX_CODE_TTL": "300"}),
                 id="code-ttl-over-configured-max"),
    pytest.param(*bad("OTPGW_MAX_CODE_TTL", {"OTPGW_MAX_CODE_TTL": "601"}), id="max-code-ttl-601"),
    pytest.param(*bad("OTPGW_SECRET_KEYS", {"OTPGW_SECRET_KEYS": ""}), id="secret-missing"),
    pytest.param(*bad("OTPGW_SECRET_KEYS", {"OTPGW_SECRET_KEYS": "short-secret"}), id="secret-short"),
    pytest.param(*bad("OTPGW_SECRET_KEYS", {"OTPGW_SECRET_KEYS": f"{SECRET},tiny"}), id="old-secret-short"),
    pytest.param(*bad("OTPGW_API_KEYS", {"OTPGW_API_KEYS": ""}), id="api-keys-missing"),
    pytest.param(*bad("OTPGW_API_KEYS", {"OTPGW_API_KEYS": "app:short"}), id="api-key-short"),
    pytest.param(*bad("OTPGW_API_KEYS", {"OTPGW_API_KEYS": "app"}), id="api-key-without-name"),
    pytest.param(*bad("OTPGW_REDIS_CLUSTER", {"OTPGW_REDIS_SENTINELS": "s1:26379", "OTPGW_REDIS_CLUSTER": "1"}),
                 id="sentinel-and-cluster"),
    pytest.param(*bad("OTPGW_ALLOWED_COUNTRIES", {"OTPGW_ALLOWED_COUNTRIES": "US,USA"}), id="bad-country"),
    pytest.param(*bad("OTPGW_COUNTRY_DAILY_LIMITS", {"OTPGW_COUNTRY_DAILY_LIMITS": "U1=5"}),
                 id="bad-country-in-limits"),
    pytest.param(*bad("OTPGW_COUNTRY_DAILY_LIMITS", {"OTPGW_COUNTRY_DAILY_LIMITS": "US=five"}),
                 id="bad-country-limit"),
    pytest.param(*bad("OTPGW_REFUSE_LANDLINES", {"OTPGW_REFUSE_LANDLINES": "maybe"}), id="bad-bool"),
    pytest.param(*bad("OTPGW_CODE_LENGTH", {"OTPGW_CODE_LENGTH": "six"}), id="bad-int"),
    pytest.param(*bad("OTPGW_REDIS_TIMEOUT", {"OTPGW_REDIS_TIMEOUT": "fast"}), id="bad-float"),
    pytest.param(*bad("OTPGW_LOG_LEVEL", {"OTPGW_LOG_LEVEL": "LOUD"}), id="bad-log-level"),
    pytest.param(*bad("OTPGW_DEFAULT_LOCALE", {"OTPGW_DEFAULT_LOCALE": "tlh"}), id="bad-default-locale"),
    pytest.param(*bad("OTPGW_WEBOTP_DOMAIN", {"OTPGW_WEBOTP_DOMAIN": "https://example.com/"}),
                 id="bad-webotp-domain"),
    pytest.param(*bad("OTPGW_LOCKOUT_MAX", {"OTPGW_LOCKOUT_BASE": "7200", "OTPGW_LOCKOUT_MAX": "3600"}),
                 id="lockout-max-below-base"),
    pytest.param(*bad("code_lenght", toml="code_lenght = 8\n"), id="unknown-toml-key"),
    pytest.param(*bad("OTPGW_CODE_LENGTH", toml='code_length = "six"\n'), id="bad-int-in-toml"),
    pytest.param(*bad("OTPGW_CONFIG", toml="code_length = = 8\n"), id="unparsable-toml"),
]


class TestBadValues:
    """Each bad value stops the start with a SettingsError whose sentence names the setting."""

    @pytest.mark.parametrize(("env", "toml", "overrides", "setting"), BAD_VALUES)
    def test_bad_value_is_refused_naming_the_setting(self, toml_file, env, toml, overrides, setting):
        environ = {**BASE_ENV, **env}
        if toml is not None:
            environ["OTPGW_CONFIG"] = toml_file(toml)
        with pytest.raises(SettingsError) as raised:
            load_settings(environ=environ, **overrides)
        assert setting in str(raised.value)

    def test_missing_toml_file_is_refused_naming_the_setting_and_path(self, tmp_path):
        missing = str(tmp_path / "absent.toml")
        with pytest.raises(SettingsError, match="OTPGW_CONFIG") as raised:
            load_settings(environ={**BASE_ENV, "OTPGW_CONFIG": missing})
        assert missing in str(raised.value)

    def test_unreadable_toml_file_is_refused(self, tmp_path):
        with pytest.raises(SettingsError, match="OTPGW_CONFIG"):
            load_settings(environ={**BASE_ENV, "OTPGW_CONFIG": str(tmp_path)})  # a directory

    def test_missing_api_keys_are_allowed_with_allow_unauthenticated(self):
        s = load_settings(environ={"OTPGW_SECRET_KEYS": SECRET, "OTPGW_ALLOW_UNAUTHENTICATED": "true"})
        assert s.api.keys == () and s.api.allow_unauthenticated is True

    def test_sentence_says_what_would_be_valid(self):
        with pytest.raises(SettingsError, match=r"6\.\.10"):
            from_env(code_length="5")


class TestMisspelledVariables:
    """A near-miss of a setting's name stops the start instead of silently keeping a default."""

    def test_typo_of_a_setting_is_refused_with_a_suggestion(self):
        with pytest.raises(SettingsError, match="did you mean OTPGW_CODE_LENGTH"):
            from_env(code_lentgh="8")

    def test_unrelated_otpgw_variables_are_left_alone(self):
        assert from_env(carrier_token="x", workers="4").codes.length == 6


class TestDevMode:
    """Dev mode needs no secret or API key: it generates a secret for the process."""

    def test_dev_mode_generates_a_strong_secret(self):
        s = load_settings(environ={"OTPGW_DEV": "true"})
        assert len(s.secrets.keys) == 1 and len(s.secrets.keys[0]) >= 32
        assert s.api.keys == ()

    def test_each_dev_start_gets_its_own_secret(self):
        assert load_settings(environ={}, dev=True).secrets.keys != load_settings(environ={}, dev=True).secrets.keys

    def test_given_secret_is_kept_in_dev_mode(self):
        assert load_settings(environ={"OTPGW_DEV": "1", "OTPGW_SECRET_KEYS": SECRET}).secrets.keys == (SECRET,)


class TestTransportNames:
    """Transports are chosen by name; an unknown name stops the start with a suggestion."""

    def test_known_name_resolves_to_its_class(self):
        assert transport_class("console") is ConsoleTransport

    def test_misspelt_name_suggests_the_close_one(self):
        with pytest.raises(SettingsError, match="OTPGW_TRANSPORT") as raised:
            transport_class("consol")
        assert "did you mean 'console'" in str(raised.value)

    def test_unrelated_name_lists_the_known_ones(self):
        with pytest.raises(SettingsError, match="known: console, fake"):
            transport_class("carrier-pigeon")


@pytest.fixture
def root_logger():
    """`otpgw worker` configures the root logger; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


class TestCommandLine:
    """`otpgw serve` with a bad setting exits 2 and prints the sentence on stderr."""

    @pytest.fixture(autouse=True)
    def clean_environment(self, monkeypatch):
        for name in [n for n in os.environ if n.startswith("OTPGW_")]:
            monkeypatch.delenv(name)

    def test_serve_with_bad_setting_exits_2_naming_it(self, monkeypatch, capsys):
        monkeypatch.setenv("OTPGW_SECRET_KEYS", SECRET)
        monkeypatch.setenv("OTPGW_API_KEYS", f"app:{APP_KEY}")
        monkeypatch.setenv("OTPGW_CODE_LENGTH", "5")
        assert cli.main(["serve"]) == 2
        err = capsys.readouterr().err
        assert "configuration error" in err and "OTPGW_CODE_LENGTH: 5 is outside 6..10" in err

    def test_serve_without_secret_exits_2_naming_it(self, capsys):
        assert cli.main(["serve"]) == 2
        assert "OTPGW_SECRET_KEYS is required" in capsys.readouterr().err

    def test_worker_with_unknown_transport_exits_2_with_a_suggestion(self, monkeypatch, capsys, root_logger):
        monkeypatch.setenv("OTPGW_SECRET_KEYS", SECRET)
        monkeypatch.setenv("OTPGW_API_KEYS", f"app:{APP_KEY}")
        assert cli.main(["worker", "--transport", "consol"]) == 2
        assert "did you mean 'console'" in capsys.readouterr().err
