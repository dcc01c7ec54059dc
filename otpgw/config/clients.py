"""API clients: ``[clients.<name>]`` tables, ``OTPGW_API_KEYS``, and the rules every client obeys.

A client is a name (what its codes are bound to), the hashes of its keys and its own
settings: sender id, brand, message template, locale, code length and lifetime, limits,
countries, login-flow formats, webhook, Twilio SIDs. A client may only *tighten* the
deployment's rules (fewer attempts, a longer cooldown, a smaller country list) and stay
within its bounds (6-10 digits, at most ``OTPGW_MAX_CODE_TTL``), so one misconfigured
client cannot weaken the service. ``parse_client`` is the one check: the settings file's
clients go through it at start-up and ``otpgw clients add`` runs it before storing one,
so every refusal is a sentence naming ``clients.<name>.<key>``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..domain import clients as ids
from ..domain import templates
from . import parsers as p
from .errors import SettingsError
from .options import Options

_URL = re.compile(r"https?://[^\s/?#]+(/[^\s#]*)?")
# An alphanumeric sender id (GSM 03.40: up to 11 characters, at least one letter) or a number.
_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 .&_-]{1,11}|\+?[0-9]{3,15}")


@dataclass(frozen=True)
class ClientLimits:
    """A client's own limits; None keeps the deployment's. ``daily_limit``: sends per UTC day (0: none)."""

    resend_cooldown: int | None = None
    send_window_max: int | None = None
    ip_send_max: int | None = None
    ip_verify_max: int | None = None
    max_attempts: int | None = None
    lockout_threshold: int | None = None
    daily_limit: int = 0


@dataclass(frozen=True)
class ClientConfig:
    """One API client. Empty or zero values fall back to the deployment's settings."""

    name: str
    key_hashes: tuple[str, ...] = field(default=(), repr=False)
    sender_id: str = ""
    brand: str = ""
    template: str = ""
    default_locale: str = ""
    code_length: int = 0
    code_ttl: int = 0
    allowed_countries: tuple[str, ...] = ()
    limits: ClientLimits = field(default_factory=ClientLimits)
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    messages_allowed: bool = False
    service_sid: str = ""
    account_sid: str = ""
    api_key_sid: str = ""
    webotp_domain: str = ""
    app_hash: str = ""
    source: str = "settings"  # or "redis" (created by ``otpgw clients add``)

    @property
    def twilio_service_sid(self) -> str:
        return self.service_sid or ids.service_sid_for(self.name)

    @property
    def twilio_account_sid(self) -> str:
        return self.account_sid or ids.account_sid_for(self.name)


@dataclass(frozen=True)
class ClientBounds:
    """The deployment's settings a client is checked against (from Settings' sections)."""

    codes: Any
    limits: Any
    lockout: Any
    numbers: Any


# table key -> (ClientLimits field, parser, "tighter" direction: the client value must be
# >= the deployment's ("min") or <= it ("max"))
_LIMITS = {
    "resend_cooldown": ("resend_cooldown", "min", "OTPGW_RESEND_COOLDOWN"),
    "send_window_max": ("send_window_max", "max", "OTPGW_SEND_WINDOW_MAX"),
    "ip_send_max": ("ip_send_max", "max", "OTPGW_IP_SEND_MAX"),
    "ip_verify_max": ("ip_verify_max", "max", "OTPGW_IP_VERIFY_MAX"),
    "max_attempts": ("max_attempts", "max", "OTPGW_MAX_ATTEMPTS"),
    "lockout_threshold": ("lockout_threshold", "max", "OTPGW_LOCKOUT_THRESHOLD"),
}


def _deployment_value(bounds: ClientBounds, name: str) -> int:
    if name == "max_attempts":
        return bounds.codes.max_attempts
    if name == "lockout_threshold":
        return bounds.lockout.threshold
    return getattr(bounds.limits, name)


def _limits(options: Options, bounds: ClientBounds) -> ClientLimits:
    values: dict[str, Any] = {"daily_limit": options.int("daily_limit", 0, low=0, high=10**9)}
    for key, (attr, direction, setting) in _LIMITS.items():
        if key not in options:
            continue
        value = options.int(key, low=0 if key.startswith("ip_") or key == "resend_cooldown" else 1, high=10**6)
        deployment = _deployment_value(bounds, attr)
        off = deployment == 0 and key.startswith("ip_")  # the deployment has no such limit: any is tighter
        looser = value < deployment if direction == "min" else (value > deployment or value == 0)
        if looser and not off:
            raise options.fail(key, f"{value} is looser than the deployment's {setting} ({deployment}); "
                                    f"a client may only tighten it")
        values[attr] = value
    options.done()
    return ClientLimits(**values)


def parse_client(name: str, table: Mapping[str, Any], bounds: ClientBounds, *, keys: tuple[str, ...] = (),
                 source: str = "settings") -> ClientConfig:
    """A client from its table; ``keys`` are clear keys from elsewhere (``OTPGW_API_KEYS``)."""
    if not ids.NAME.fullmatch(str(name)):
        raise SettingsError(f"clients.{name}: a client name is 1-64 characters of A-Z a-z 0-9 . _ -")
    options = Options(f"clients.{name}", table)
    given = options.list("keys") + ((options.str("key"),) if "key" in options else ())
    short = [k for k in given + keys if len(k) < 16]
    if short:
        raise options.fail("keys", "every key must be at least 16 characters")
    hashes = options.list("key_hashes", item=p.text(r"[0-9a-f]{64}", hint="hex SHA-256"))
    config = ClientConfig(
        name=str(name), key_hashes=tuple(dict.fromkeys(hashes + tuple(ids.key_hash(k) for k in given + keys))),
        sender_id=options.str("sender_id", "", pattern=_SENDER.pattern,
                              hint="up to 11 letters and digits with at least one letter, or a number"),
        brand=options.str("brand", ""), template=options.str("template", ""),
        default_locale=options.str("default_locale", ""),
        code_length=options.int("code_length", 0, low=6, high=10),
        code_ttl=options.int("code_ttl", 0, low=1, high=bounds.codes.max_ttl),
        allowed_countries=options.list("allowed_countries", item=p.country),
        limits=_limits(options.table("limits", {}), bounds),
        webhook_url=options.str("webhook_url", "", pattern=_URL.pattern, hint="an absolute http(s) URL"),
        webhook_secret=options.str("webhook_secret", ""),
        messages_allowed=options.bool("messages_allowed", False),
        service_sid=options.str("service_sid", "", pattern=ids.SERVICE_SID.pattern, hint="VA and 32 hex digits"),
        account_sid=options.str("account_sid", "", pattern=ids.ACCOUNT_SID.pattern, hint="AC and 32 hex digits"),
        api_key_sid=options.str("api_key_sid", "", pattern=ids.API_KEY_SID.pattern, hint="SK and 32 hex digits"),
        webotp_domain=options.str("webotp_domain", ""), app_hash=options.str("app_hash", ""), source=source)
    options.done()
    _check(config, options, bounds)
    return config


def _check(config: ClientConfig, options: Options, bounds: ClientBounds) -> None:
    """The rules that involve several keys or the deployment's settings."""
    allowed = bounds.numbers.allowed_countries
    outside = [c for c in config.allowed_countries if allowed and c not in allowed]
    if outside:
        raise options.fail("allowed_countries", f"{', '.join(outside)} outside the deployment's "
                                                f"OTPGW_ALLOWED_COUNTRIES ({', '.join(allowed)})")
    if config.webhook_url and len(config.webhook_secret) < 16:
        raise options.fail("webhook_secret", "a webhook_url needs a webhook_secret of at least 16 characters")
    if config.default_locale:
        try:
            templates.resolve_locale("", default=config.default_locale)
        except ValueError as exc:
            raise options.fail("default_locale", str(exc)) from None
    _check_message(config, options, bounds)


def _check_message(config: ClientConfig, options: Options, bounds: ClientBounds) -> None:
    """The template, and the login-flow format, render a usable SMS."""
    brand = config.brand or bounds.codes.brand
    for key, check in (("template", lambda: config.template and templates.check_template(config.template, brand)),
                       ("webotp_domain", lambda: config.webotp_domain
                        and templates.check_webotp_domain(config.webotp_domain)),
                       ("app_hash", lambda: config.app_hash and templates.check_app_hash(config.app_hash))):
        try:
            check()
        except ValueError as exc:
            raise options.fail(key, str(exc)) from None
    if config.webotp_domain and config.app_hash:
        raise options.fail("app_hash", "a client sets either webotp_domain or app_hash, not both "
                                       "(each format wants the message's last line)")
    if config.app_hash:
        try:
            templates.check_app_hash_fits(render_longest(config, bounds))
        except ValueError as exc:
            raise options.fail("app_hash", str(exc)) from None


def render_longest(config: ClientConfig, bounds: ClientBounds, **formats: str) -> str:
    """The client's message at its longest: a 10-digit code and a 10-minute life."""
    locale = config.default_locale or bounds.codes.default_locale
    formats = formats or {"webotp_domain": config.webotp_domain, "app_hash": config.app_hash}
    return templates.render("0" * 10, locale=locale, brand=config.brand or bounds.codes.brand, ttl_seconds=600,
                            template=config.template, **formats)


def parse_clients(raw: Any, api_keys: tuple[tuple[str, str], ...], bounds: ClientBounds) -> dict[str, ClientConfig]:
    """Every client of the settings: the ``[clients.<name>]`` tables and ``OTPGW_API_KEYS``."""
    if raw is not None and not isinstance(raw, Mapping):
        raise SettingsError("clients: expected tables [clients.<name>]")
    tables = dict(raw or {})
    keys: dict[str, tuple[str, ...]] = {}
    for name, key in api_keys:
        keys[name] = keys.get(name, ()) + (key,)
    result = {str(n): parse_client(str(n), tables.get(n, {}), bounds, keys=keys.get(str(n), ()))
              for n in dict.fromkeys([*tables, *keys])}
    check_unique(result.values())
    return result


def check_unique(clients) -> None:
    """A key, a service SID or an account SID belongs to one client only."""
    seen: dict[str, str] = {}
    for client in clients:
        for kind, value in [("key", h) for h in client.key_hashes] + [
                ("service_sid", client.twilio_service_sid), ("account_sid", client.account_sid),
                ("api_key_sid", client.api_key_sid)]:
            if not value:
                continue
            other = seen.setdefault(f"{kind}:{value}", client.name)
            if other != client.name:
                raise SettingsError(f"clients.{client.name}: the same {kind} is given to client {other}")
