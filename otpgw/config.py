"""Settings: read once at start-up from ``OTPGW_*`` variables and an optional TOML file.

Precedence is environment over file over default. Every value is parsed and checked
here, so a bad deployment stops at start-up with a sentence naming the setting,
never later in the middle of a login. The result is frozen: nothing changes it while
the process runs.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from typing import Any, Mapping

from . import messages

ENV_PREFIX = "OTPGW_"
_CLIENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Read from the environment by gunicorn_conf, the CLI and transports, not by Settings.
PROCESS_VARIABLES = {
    "OTPGW_CONFIG", "OTPGW_BIND", "OTPGW_WORKERS", "OTPGW_THREADS", "OTPGW_WORKER_CLASS",
    "OTPGW_WORKER_CONNECTIONS", "OTPGW_TIMEOUT", "OTPGW_GRACEFUL_TIMEOUT", "OTPGW_KEEPALIVE",
    "OTPGW_GUNICORN_ACCESS_LOG", "OTPGW_FORWARDED_ALLOW_IPS", "OTPGW_WORKER_HEALTH_PORT", "OTPGW_MODEM_DEVICE",
}


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another one."""


@dataclass(frozen=True)
class Settings:
    """Every knob of otpgw; the README's settings table mirrors this class."""

    dev: bool = False
    secret_keys: tuple[str, ...] = ()
    api_keys: tuple[tuple[str, str], ...] = ()
    allow_unauthenticated: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_username: str = ""
    redis_password: str = ""
    redis_sentinels: tuple[str, ...] = ()
    redis_sentinel_master: str = "mymaster"
    redis_cluster: bool = False
    redis_timeout: float = 0.5
    key_prefix: str = "otpgw"
    code_length: int = 6
    code_ttl: int = 300
    max_code_ttl: int = 600
    max_attempts: int = 5
    resend_cooldown: int = 30
    send_window: int = 600
    send_window_max: int = 5
    lockout_threshold: int = 10
    lockout_window: int = 3600
    lockout_base: int = 3600
    lockout_max: int = 86400
    ip_window: int = 600
    ip_send_max: int = 20
    ip_verify_max: int = 60
    allowed_countries: tuple[str, ...] = ()
    country_daily_limit: int = 0
    country_daily_limits: tuple[tuple[str, int], ...] = ()
    prefix_daily_limits: tuple[tuple[str, int], ...] = ()
    refuse_landlines: bool = False
    default_region: str = ""
    retention: int = 86400
    transport: str = "console"
    brand: str = "otpgw"
    default_locale: str = "en"
    webotp_domain: str = ""
    max_body_bytes: int = 4096
    worker_block_ms: int = 2000
    worker_claim_idle: int = 60
    worker_max_retries: int = 5
    worker_retry_base: float = 2.0
    log_level: str = "INFO"

    @property
    def current_key(self) -> bytes:
        """The key new codes are issued under; older keys in the list only verify."""
        return self.secret_keys[0].encode()

    def daily_limit_for(self, country: str) -> int:
        """Daily send cap for a country; 0 means unlimited."""
        return dict(self.country_daily_limits).get(country, self.country_daily_limit)

    def prefix_limit_for(self, e164: str) -> tuple[str, int]:
        """The longest configured number prefix of ``e164`` and its daily cap, or ('', 0)."""
        matches = [(p, cap) for p, cap in self.prefix_daily_limits if e164.startswith(p)]
        return max(matches, key=lambda m: len(m[0]), default=("", 0))


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build and validate Settings from a file, the environment and explicit overrides."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    path = environ.get(ENV_PREFIX + "CONFIG")
    if path:
        raw.update(_read_toml(path))
    for f in dataclasses.fields(Settings):
        if ENV_PREFIX + f.name.upper() in environ:
            raw[f.name] = environ[ENV_PREFIX + f.name.upper()]
    _refuse_misspellings(environ)
    raw.update(overrides)
    unknown = sorted(set(raw) - {f.name for f in dataclasses.fields(Settings)})
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)} in {path or 'overrides'}")
    values = {name: _coerce(name, value) for name, value in raw.items()}
    if values.get("dev") and not values.get("secret_keys"):
        values["secret_keys"] = (secrets.token_urlsafe(32),)
    settings = Settings(**values)
    _validate(settings)
    return settings


def _refuse_misspellings(environ: Mapping[str, str]) -> None:
    """A near-miss of a setting's name is a typo that would silently keep a default.

    Other ``OTPGW_*`` names (gunicorn's, transports' credentials) are left alone.
    """
    known = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)} | PROCESS_VARIABLES
    for name in environ:
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.88)
            if close:
                raise SettingsError(f"{name} is not a setting; did you mean {close[0]}?")


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"OTPGW_CONFIG: cannot read {path}: {exc}") from exc


def _coerce(name: str, value: Any) -> Any:
    """Turn an environment string or a TOML value into the field's type."""
    kind = Settings.__dataclass_fields__[name].type
    label = ENV_PREFIX + name.upper()
    try:
        if name == "api_keys":
            return _pairs(value, str)
        if name == "country_daily_limits":
            return tuple((k.upper(), v) for k, v in _pairs(value, int))
        if name == "prefix_daily_limits":
            return tuple(("+" + k.lstrip("+"), v) for k, v in _pairs(value, int))
        if kind == "bool":
            return _bool(value)
        if kind in ("int", "float"):
            return {"int": int, "float": float}[kind](value)
        if kind == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else list(value)
            cleaned = tuple(str(i).strip() for i in items if str(i).strip())
            return tuple(c.upper() for c in cleaned) if name == "allowed_countries" else cleaned
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{label}: {value!r} is not a valid {kind} ({exc})") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use true or false")


def _pairs(value: Any, kind: type) -> tuple[tuple[str, Any], ...]:
    """``"a:1,b:2"`` (or ``=``) from the environment, or a TOML table, as sorted pairs."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), kind(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(sorted((str(k), kind(v)) for k, v in value))
    pairs = []
    for item in filter(None, (i.strip() for i in str(value).split(","))):
        cut = min((i for i in (item.find(":"), item.find("=")) if i >= 0), default=-1)
        key, val = (item[:cut].strip(), item[cut + 1:].strip()) if cut >= 0 else ("", "")
        if not key or not val:
            raise ValueError(f"{item!r} is not name:value")
        pairs.append((key, kind(val)))
    return tuple(sorted(pairs))


_RANGES = {
    "code_length": (6, 10),
    "max_code_ttl": (10, 600),
    "max_attempts": (1, 20),
    "resend_cooldown": (0, 3600),
    "send_window": (1, 86400),
    "send_window_max": (1, 1000),
    "lockout_threshold": (1, 1000),
    "lockout_window": (1, 7 * 86400),
    "lockout_base": (1, 7 * 86400),
    "lockout_max": (1, 30 * 86400),
    "ip_window": (1, 86400),
    "ip_send_max": (0, 10**6),
    "ip_verify_max": (0, 10**6),
    "country_daily_limit": (0, 10**9),
    "retention": (60, 30 * 86400),
    "max_body_bytes": (256, 1 << 20),
    "worker_block_ms": (10, 60000),
    "worker_claim_idle": (1, 3600),
    "worker_max_retries": (0, 100),
    "redis_timeout": (0.01, 60),
    "worker_retry_base": (0.01, 600),
}


def _validate(s: Settings) -> None:
    """Refuse contradictory or unsafe settings with a sentence naming the setting."""
    for name, (low, high) in _RANGES.items():
        value = getattr(s, name)
        if not low <= value <= high:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()}: {value} is outside {low}..{high}")
    if not 1 <= s.code_ttl <= s.max_code_ttl:
        raise SettingsError(f"OTPGW_CODE_TTL: {s.code_ttl} must be within 1..OTPGW_MAX_CODE_TTL ({s.max_code_ttl})")
    if s.lockout_max < s.lockout_base:
        raise SettingsError("OTPGW_LOCKOUT_MAX must be at least OTPGW_LOCKOUT_BASE")
    if not s.secret_keys:
        raise SettingsError("OTPGW_SECRET_KEYS is required outside dev mode (comma-separated, newest first)")
    if any(len(k) < 16 for k in s.secret_keys):
        raise SettingsError("OTPGW_SECRET_KEYS: every key must be at least 16 characters")
    if not s.api_keys and not (s.dev or s.allow_unauthenticated):
        raise SettingsError(
            "OTPGW_API_KEYS is required outside dev mode (name:key,...); "
            "set OTPGW_ALLOW_UNAUTHENTICATED=true only behind a trusted gateway"
        )
    if any(not _CLIENT_NAME.match(name) for name, _ in s.api_keys):
        raise SettingsError("OTPGW_API_KEYS: client names are 1-64 characters of A-Z a-z 0-9 . _ -")
    if any(len(key) < 16 for _, key in s.api_keys):
        raise SettingsError("OTPGW_API_KEYS: every key must be at least 16 characters")
    if s.redis_sentinels and s.redis_cluster:
        raise SettingsError("OTPGW_REDIS_SENTINELS and OTPGW_REDIS_CLUSTER cannot both be set")
    bad = [c for c in s.allowed_countries + tuple(c for c, _ in s.country_daily_limits) if len(c) != 2 or not c.isalpha()]
    if bad:
        raise SettingsError(f"OTPGW_ALLOWED_COUNTRIES / OTPGW_COUNTRY_DAILY_LIMITS: {bad} are not ISO 3166 alpha-2 codes")
    try:
        messages.resolve_locale("", default=s.default_locale)
        messages.render("0" * s.code_length, locale=s.default_locale, brand=s.brand, ttl_seconds=s.code_ttl,
                        webotp_domain=s.webotp_domain)
    except ValueError as exc:
        raise SettingsError(f"OTPGW_DEFAULT_LOCALE / OTPGW_WEBOTP_DOMAIN / OTPGW_BRAND: {exc}") from None
    if any(not re.fullmatch(r"\+\d{1,14}", p) or cap < 1 for p, cap in s.prefix_daily_limits):
        raise SettingsError("OTPGW_PREFIX_DAILY_LIMITS: use +digits=cap with cap >= 1, e.g. +1900=10,+4470=50")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError("OTPGW_LOG_LEVEL: use DEBUG, INFO, WARNING or ERROR")
