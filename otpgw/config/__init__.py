"""Settings: read once at start-up from ``OTPGW_*`` variables and an optional TOML file.

Precedence is overrides over environment over file over default. Every value is parsed
and checked here, so a bad deployment stops at start-up with a sentence naming the
setting, never later in the middle of a login. The result is frozen: nothing changes it
while the process runs. A string ``"${VAR}"`` anywhere in the file is replaced by that
environment variable, so secrets never need to sit in the file.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import secrets
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..domain import templates
from . import parsers
from .clients import ClientBounds, ClientConfig, ClientLimits, parse_client, parse_clients
from .errors import SettingsError
from .files import ENV_PREFIX, read_config_file
from .sections import (
    SECTIONS,
    ApiSettings,
    CodeSettings,
    DeliverySettings,
    LimitSettings,
    LockoutSettings,
    LoggingSettings,
    MessageSettings,
    NumberSettings,
    RedisSettings,
    SecretSettings,
    TotpSettings,
    WebhookSettings,
    setting,
)
from .tables import RouteConfig, TransportConfig, parse_routes, parse_transports

__all__ = ["ENV_PREFIX", "PROCESS_VARIABLES", "ClientBounds", "ClientConfig", "ClientLimits", "RouteConfig",
           "Settings", "SettingsError", "TransportConfig", "load_settings", "parse_client"]

# Read from the environment by gunicorn_conf, the CLI and transports, not by Settings.
PROCESS_VARIABLES = {
    "OTPGW_CONFIG", "OTPGW_BIND", "OTPGW_WORKERS", "OTPGW_THREADS", "OTPGW_WORKER_CLASS",
    "OTPGW_WORKER_CONNECTIONS", "OTPGW_TIMEOUT", "OTPGW_GRACEFUL_TIMEOUT", "OTPGW_KEEPALIVE",
    "OTPGW_GUNICORN_ACCESS_LOG", "OTPGW_FORWARDED_ALLOW_IPS", "OTPGW_WORKER_HEALTH_PORT", "OTPGW_WORKER_HEALTH_HOST",
    "OTPGW_HEALTH_PORT", "OTPGW_HEALTH_HOST", "OTPGW_DRAIN_FILE",
}


@dataclass(frozen=True)
class Settings:
    """Every knob of otpgw, by section; the README's settings table mirrors this class."""

    dev: bool = setting(False, parsers.boolean, env="DEV")
    public_url: str = setting("", parsers.public_url, env="PUBLIC_URL")
    secrets: SecretSettings = field(default_factory=SecretSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    codes: CodeSettings = field(default_factory=CodeSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    lockout: LockoutSettings = field(default_factory=LockoutSettings)
    numbers: NumberSettings = field(default_factory=NumberSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    totp: TotpSettings = field(default_factory=TotpSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    messages: MessageSettings = field(default_factory=MessageSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    transports: Mapping[str, TransportConfig] = field(default_factory=lambda: MappingProxyType({}))
    routes: tuple[RouteConfig, ...] = ()
    clients: Mapping[str, ClientConfig] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def client_bounds(self) -> ClientBounds:
        """What an API client's own settings are checked against."""
        return ClientBounds(self.codes, self.limits, self.lockout, self.numbers)

    @property
    def api_open(self) -> bool:
        """The API answers callers without a key (dev mode, or behind an authenticating gateway)
        when no client of the settings has a key."""
        return (self.dev or self.api.allow_unauthenticated) and not any(c.key_hashes for c in self.clients.values())


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if "env" in f.metadata}


# Every scalar setting by its flat name (the environment name, lower-cased, as the TOML
# file and load_settings' overrides also take it): flat name -> (section or '', field).
FLAT: dict[str, tuple[str, str]] = {
    **{f.metadata["env"].lower(): ("", name) for name, f in _fields(Settings).items()},
    **{f.metadata["env"].lower(): (section, name)
       for section, cls in SECTIONS.items() for name, f in _fields(cls).items()},
}
_TABLES = ("transports", "routes", "clients")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build and validate Settings from a file, the environment and explicit overrides.

    ``overrides`` take flat names (``code_ttl=60``) and the tables ``transports``,
    ``routes`` and ``clients``; tests and the CLI use them.
    """
    environ = os.environ if environ is None else environ
    path = environ.get(ENV_PREFIX + "CONFIG", "")
    values, tables = _from_file(read_config_file(path, environ) if path else {}, path)
    _refuse_misspellings(environ)
    for flat, place in FLAT.items():
        if ENV_PREFIX + flat.upper() in environ:
            values[place] = environ[ENV_PREFIX + flat.upper()]
    for name, value in overrides.items():
        if name in _TABLES:
            tables[name] = value
        elif name in FLAT:
            values[FLAT[name]] = value
        else:
            raise SettingsError(f"unknown setting {name} in overrides")
    return _build(values, tables)


def _from_file(data: dict[str, Any], path: str) -> tuple[dict[tuple[str, str], Any], dict[str, Any]]:
    """Split the file into scalar settings by place and the nested tables."""
    values: dict[tuple[str, str], Any] = {}
    tables: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TABLES:
            tables[key] = value
        elif key in SECTIONS and isinstance(value, Mapping):
            known = _fields(SECTIONS[key])
            for name, item in value.items():
                if name not in known:
                    raise SettingsError(f"unknown setting {key}.{name} in {path}{_hint(name, known)}")
                values[(key, name)] = item
        elif key in FLAT:
            values[FLAT[key]] = value
        else:
            raise SettingsError(f"unknown setting {key} in {path}{_hint(key, [*FLAT, *SECTIONS, *_TABLES])}")
    return values, tables


def _hint(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _refuse_misspellings(environ: Mapping[str, str]) -> None:
    """A near-miss of a setting's name is a typo that would silently keep a default.

    Other ``OTPGW_*`` names (gunicorn's, transports' credentials) are left alone.
    """
    known = {ENV_PREFIX + flat.upper() for flat in FLAT} | PROCESS_VARIABLES
    for name in environ:
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.88)
            if close:
                raise SettingsError(f"{name} is not a setting; did you mean {close[0]}?")


def _parse(cls: type, section: str, values: dict[tuple[str, str], Any]) -> dict[str, Any]:
    parsed = {}
    for name, f in _fields(cls).items():
        if (section, name) in values:
            try:
                parsed[name] = f.metadata["parse"](values[(section, name)])
            except (TypeError, ValueError) as exc:
                raise SettingsError(f"{ENV_PREFIX}{f.metadata['env']}: {exc}") from None
    return parsed


def _build(values: dict[tuple[str, str], Any], tables: dict[str, Any]) -> Settings:
    root = _parse(Settings, "", values)
    sections = {name: cls(**_parse(cls, name, values)) for name, cls in SECTIONS.items()}
    dev = root.get("dev", False)
    if dev and not sections["secrets"].keys:
        sections["secrets"] = SecretSettings(keys=(secrets.token_urlsafe(32),))
    for section in sections.values():
        section.check(dev)
    _check_templates(sections["codes"])
    transports = _transports(tables, sections["delivery"], explicit=("delivery", "transport") in values)
    routes = parse_routes(tables["routes"], transports) if tables.get("routes") else ()
    clients = _clients(tables.get("clients"), sections, dev)
    return Settings(**root, **sections, transports=MappingProxyType(transports),
                    routes=routes or _default_routes(transports, sections["delivery"], values),
                    clients=MappingProxyType(clients))


def _clients(raw: Any, sections: dict[str, Any], dev: bool) -> dict[str, ClientConfig]:
    """The settings' clients; outside dev mode some client needs a key, unless the API is
    opened on purpose or clients live in Redis."""
    api = sections["api"]
    bounds = ClientBounds(sections["codes"], sections["limits"], sections["lockout"], sections["numbers"])
    clients = parse_clients(raw, api.keys, bounds)
    if not any(c.key_hashes for c in clients.values()) and not (dev or api.allow_unauthenticated or api.redis_clients):
        raise SettingsError(
            "OTPGW_API_KEYS is required outside dev mode (name:key,...), or [clients.<name>] tables with keys, "
            "or OTPGW_REDIS_CLIENTS=true for clients made by `otpgw clients add`; "
            "set OTPGW_ALLOW_UNAUTHENTICATED=true only behind a trusted gateway")
    return clients


def _transports(tables: dict[str, Any], delivery: DeliverySettings, *, explicit: bool) -> dict[str, TransportConfig]:
    """The configured transports; without any, ``OTPGW_TRANSPORT`` names a type (console)."""
    configured = parse_transports(tables.get("transports") or {})
    if not configured or (explicit and delivery.transport not in configured):
        configured = {**configured, delivery.transport: TransportConfig(delivery.transport, delivery.transport,
                                                                        MappingProxyType({}))}
    return configured


def _default_routes(transports: Mapping[str, TransportConfig], delivery: DeliverySettings,
                    values: dict[tuple[str, str], Any]) -> tuple[RouteConfig, ...]:
    """Without ``[[routes]]``: ``OTPGW_TRANSPORT`` if given, else every transport in file order."""
    if ("delivery", "transport") in values or len(transports) == 1:
        return (RouteConfig(transports=(delivery.transport if delivery.transport in transports
                                        else next(iter(transports)),)),)
    return (RouteConfig(transports=tuple(transports)),)


def _check_templates(codes: CodeSettings) -> None:
    """The default locale must have a template, and a code must render in it."""
    try:
        templates.resolve_locale("", default=codes.default_locale)
        templates.render("0" * codes.length, locale=codes.default_locale, brand=codes.brand,
                         ttl_seconds=codes.ttl, webotp_domain=codes.webotp_domain)
    except ValueError as exc:
        raise SettingsError(f"OTPGW_DEFAULT_LOCALE / OTPGW_WEBOTP_DOMAIN / OTPGW_BRAND: {exc}") from None
