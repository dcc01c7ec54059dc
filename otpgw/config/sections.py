"""The sections of Settings: one frozen dataclass per concern, one line per setting.

Each field names its environment variable (``OTPGW_<ENV>``; these names are what
deployments already use) and its parser, which carries the valid range. The TOML file
takes either the flat name (``code_ttl = 120``) or the section's table (``[codes]``
``ttl = 120``). Rules that involve two settings live in the section's ``check``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..domain.phones import NUMBER_TYPES
from . import parsers as p
from .errors import SettingsError

NUMBER_TYPE_NAMES = tuple(NUMBER_TYPES.values())

_CLIENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def setting(default: Any, parse: p.Parser, *, env: str, secret: bool = False) -> Any:
    """A field with its environment name and parser; ``default`` is used as given.
    A ``secret`` never shows in the settings' repr (so never in a log line)."""
    return field(default=default, repr=not secret, metadata={"env": env, "parse": parse})


def _api_key(value: Any) -> str:
    return p.text()(value)


@dataclass(frozen=True)
class SecretSettings:
    """Secret keys: HMAC of codes, sealing of queued messages, identity tags.

    ``keys``: the first signs new codes and seals new messages; every key verifies and
    opens. ``standby``: keys this process verifies and opens but never signs with: the
    first phase of a rolling rotation (README, "Rotating keys"). ``tag_key``: the key of
    the identity tags in Redis keys; it defaults to the last of ``keys`` and must stay the
    same across a rotation (changing it re-keys every counter and lockout).
    """

    keys: tuple[str, ...] = setting((), p.words(), env="SECRET_KEYS", secret=True)
    standby: tuple[str, ...] = setting((), p.words(), env="STANDBY_SECRET_KEYS", secret=True)
    tag_key: str = setting("", p.text(), env="TAG_KEY", secret=True)

    @property
    def current_key(self) -> bytes:
        """The key new codes are issued under; older keys in the list only verify."""
        return self.keys[0].encode()

    @property
    def known(self) -> tuple[str, ...]:
        """Every key that verifies and opens: the signing list, then the standby keys."""
        return self.keys + tuple(k for k in self.standby if k not in self.keys)

    @property
    def tagging_key(self) -> str:
        return self.tag_key or self.keys[-1]

    def check(self, dev: bool) -> None:
        if not self.keys:
            raise SettingsError("OTPGW_SECRET_KEYS is required outside dev mode (comma-separated, newest first)")
        if any(len(k) < 16 for k in self.keys):
            raise SettingsError("OTPGW_SECRET_KEYS: every key must be at least 16 characters")
        if any(len(k) < 16 for k in self.standby):
            raise SettingsError("OTPGW_STANDBY_SECRET_KEYS: every key must be at least 16 characters")
        if self.tag_key and len(self.tag_key) < 16:
            raise SettingsError("OTPGW_TAG_KEY: the key must be at least 16 characters")


@dataclass(frozen=True)
class ApiSettings:
    """Who may call the API and how large a request may be."""

    keys: tuple[tuple[str, str], ...] = setting((), p.pairs(_api_key), env="API_KEYS", secret=True)
    allow_unauthenticated: bool = setting(False, p.boolean, env="ALLOW_UNAUTHENTICATED")
    redis_clients: bool = setting(False, p.boolean, env="REDIS_CLIENTS")  # clients of `otpgw clients add`
    client_cache_ttl: float = setting(5.0, p.number(0.0, 300), env="CLIENT_CACHE_TTL")
    max_body_bytes: int = setting(4096, p.integer(256, 1 << 20), env="MAX_BODY_BYTES")
    body_timeout: float = setting(5.0, p.number(0.1, 120), env="BODY_TIMEOUT")

    def check(self, dev: bool) -> None:
        # whether some client has a key is checked with the [clients.*] tables (config.clients)
        if any(not _CLIENT_NAME.match(name) for name, _ in self.keys):
            raise SettingsError("OTPGW_API_KEYS: client names are 1-64 characters of A-Z a-z 0-9 . _ -")
        if any(len(key) < 16 for _, key in self.keys):
            raise SettingsError("OTPGW_API_KEYS: every key must be at least 16 characters")


@dataclass(frozen=True)
class RedisSettings:
    """Where the store lives: a URL, Sentinels or a Cluster, and how long to wait for it."""

    url: str = setting("redis://127.0.0.1:6379/0", p.text(), env="REDIS_URL", secret=True)  # may hold a password
    username: str = setting("", p.text(), env="REDIS_USERNAME")
    password: str = setting("", p.text(), env="REDIS_PASSWORD", secret=True)
    sentinels: tuple[str, ...] = setting((), p.words(), env="REDIS_SENTINELS")
    sentinel_master: str = setting("mymaster", p.text(), env="REDIS_SENTINEL_MASTER")
    cluster: bool = setting(False, p.boolean, env="REDIS_CLUSTER")
    timeout: float = setting(0.5, p.number(0.01, 60), env="REDIS_TIMEOUT")
    key_prefix: str = setting("otpgw", p.text(r"[A-Za-z0-9._-]{1,32}", hint="1-32 of A-Z a-z 0-9 . _ -"),
                              env="KEY_PREFIX")

    def check(self, dev: bool) -> None:
        if self.sentinels and self.cluster:
            raise SettingsError("OTPGW_REDIS_SENTINELS and OTPGW_REDIS_CLUSTER cannot both be set")


@dataclass(frozen=True)
class CodeSettings:
    """The codes themselves: length, life, attempts, and the text that carries them."""

    length: int = setting(6, p.integer(6, 10), env="CODE_LENGTH")
    ttl: int = setting(300, p.integer(1, 600), env="CODE_TTL")
    max_ttl: int = setting(600, p.integer(10, 600), env="MAX_CODE_TTL")
    max_attempts: int = setting(5, p.integer(1, 20), env="MAX_ATTEMPTS")
    retention: int = setting(86400, p.integer(60, 30 * 86400), env="RETENTION")
    brand: str = setting("otpgw", p.text(), env="BRAND")
    default_locale: str = setting("en", p.text(), env="DEFAULT_LOCALE")
    webotp_domain: str = setting("", p.text(), env="WEBOTP_DOMAIN")

    def check(self, dev: bool) -> None:
        if not 1 <= self.ttl <= self.max_ttl:
            raise SettingsError(f"OTPGW_CODE_TTL: {self.ttl} must be within 1..OTPGW_MAX_CODE_TTL ({self.max_ttl})")


@dataclass(frozen=True)
class LimitSettings:
    """Per-phone send limits and per-client-IP limits."""

    resend_cooldown: int = setting(30, p.integer(0, 3600), env="RESEND_COOLDOWN")
    send_window: int = setting(600, p.integer(1, 86400), env="SEND_WINDOW")
    send_window_max: int = setting(5, p.integer(1, 1000), env="SEND_WINDOW_MAX")
    ip_window: int = setting(600, p.integer(1, 86400), env="IP_WINDOW")
    ip_send_max: int = setting(20, p.integer(0, 10**6), env="IP_SEND_MAX")
    ip_verify_max: int = setting(60, p.integer(0, 10**6), env="IP_VERIFY_MAX")
    ipv4_prefix: int = setting(32, p.integer(8, 32), env="IPV4_PREFIX")
    ipv6_prefix: int = setting(64, p.integer(16, 128), env="IPV6_PREFIX")

    def check(self, dev: bool) -> None:
        pass


@dataclass(frozen=True)
class LockoutSettings:
    """Failures across codes that lock a phone or a user_ref, doubling on repeat."""

    threshold: int = setting(10, p.integer(1, 1000), env="LOCKOUT_THRESHOLD")
    window: int = setting(3600, p.integer(1, 7 * 86400), env="LOCKOUT_WINDOW")
    base: int = setting(3600, p.integer(1, 7 * 86400), env="LOCKOUT_BASE")
    max: int = setting(86400, p.integer(1, 30 * 86400), env="LOCKOUT_MAX")
    scope: str = setting("client", p.text(choices=("client", "global")), env="LOCKOUT_SCOPE")

    def check(self, dev: bool) -> None:
        if self.max < self.base:
            raise SettingsError("OTPGW_LOCKOUT_MAX must be at least OTPGW_LOCKOUT_BASE")


@dataclass(frozen=True)
class NumberSettings:
    """Which numbers may receive codes, and daily caps against toll fraud."""

    default_region: str = setting("", p.text(r"[A-Z]{2}", upper=True, hint="an ISO 3166 alpha-2 code"),
                                  env="DEFAULT_REGION")
    allowed_countries: tuple[str, ...] = setting((), p.words(p.country), env="ALLOWED_COUNTRIES")
    allowed_number_types: tuple[str, ...] = setting(
        ("mobile", "fixed_line_or_mobile"), p.words(p.text(choices=NUMBER_TYPE_NAMES)), env="ALLOWED_NUMBER_TYPES")
    refuse_landlines: bool = setting(False, p.boolean, env="REFUSE_LANDLINES")  # older name: takes fixed_line out
    country_daily_limit: int = setting(0, p.integer(0, 10**9), env="COUNTRY_DAILY_LIMIT")
    country_daily_limits: tuple[tuple[str, int], ...] = setting(
        (), p.pairs(p.integer(0, 10**9), key=p.country), env="COUNTRY_DAILY_LIMITS")
    prefix_daily_limits: tuple[tuple[str, int], ...] = setting(
        (), p.pairs(p.positive_int, key=p.prefix), env="PREFIX_DAILY_LIMITS")

    def check(self, dev: bool) -> None:
        if not self.allowed_number_types:
            raise SettingsError("OTPGW_ALLOWED_NUMBER_TYPES: name at least one type, e.g. mobile")

    @property
    def number_types(self) -> frozenset[str]:
        """The number types that may receive a code (``refuse_landlines`` removes fixed_line)."""
        types = frozenset(self.allowed_number_types)
        return types - {"fixed_line"} if self.refuse_landlines else types

    def daily_limit_for(self, country: str) -> int:
        """Daily send cap for a country; 0 means unlimited."""
        return dict(self.country_daily_limits).get(country, self.country_daily_limit)

    def prefix_limit_for(self, e164: str) -> tuple[str, int]:
        """The longest configured number prefix of ``e164`` and its daily cap, or ('', 0)."""
        matches = [(px, cap) for px, cap in self.prefix_daily_limits if e164.startswith(px)]
        return max(matches, key=lambda m: len(m[0]), default=("", 0))


@dataclass(frozen=True)
class DeliverySettings:
    """How delivery workers read lanes, retry and recover a dead worker's messages."""

    transport: str = setting("console", p.text(r"[A-Za-z0-9_-]{1,32}", hint="a transport name"),
                             env="TRANSPORT")
    block_ms: int = setting(2000, p.integer(10, 60000), env="WORKER_BLOCK_MS")
    claim_idle: int = setting(60, p.integer(1, 3600), env="WORKER_CLAIM_IDLE")
    max_retries: int = setting(5, p.integer(0, 100), env="WORKER_MAX_RETRIES")
    retry_base: float = setting(2.0, p.number(0.01, 600), env="WORKER_RETRY_BASE")
    concurrency: int = setting(64, p.integer(1, 512), env="WORKER_CONCURRENCY")

    def check(self, dev: bool) -> None:
        pass


@dataclass(frozen=True)
class TotpSettings:
    """Authenticator-app codes (RFC 6238) and recovery codes, as new enrolments get them.

    An enrolment keeps the digits, period and algorithm it was made with, so changing
    them affects new enrolments only. Some authenticators (older Google Authenticator)
    ignore ``digits``, ``period`` and ``algorithm``: keep 6, 30 and SHA1 unless every
    authenticator your users have reads them. ``drift`` is the number of steps either
    side of now that are still accepted (RFC 6238 section 5.2 allows one).
    """

    issuer: str = setting("otpgw", p.text(r"[^:]{1,64}", hint="1-64 characters, no colon"), env="TOTP_ISSUER")
    digits: int = setting(6, p.integer(6, 8), env="TOTP_DIGITS")
    period: int = setting(30, p.integer(15, 120), env="TOTP_PERIOD")
    algorithm: str = setting("SHA1", p.text(choices=("SHA1", "SHA256", "SHA512"), upper=True), env="TOTP_ALGORITHM")
    drift: int = setting(1, p.integer(0, 1), env="TOTP_DRIFT")
    enroll_ttl: int = setting(900, p.integer(60, 86400), env="TOTP_ENROLL_TTL")
    recovery_count: int = setting(10, p.integer(5, 20), env="RECOVERY_CODE_COUNT")
    recovery_length: int = setting(10, p.integer(10, 20), env="RECOVERY_CODE_LENGTH")

    def check(self, dev: bool) -> None:
        if not self.issuer:
            raise SettingsError("OTPGW_TOTP_ISSUER: name the issuer authenticator apps show, e.g. your brand")


@dataclass(frozen=True)
class WebhookSettings:
    """Outgoing webhooks: how long one POST may take and how long an event is retried.

    Back-off between attempts: ``retry_base * 2**(attempt-1)`` seconds, at most
    ``retry_max``; an event older than ``max_age`` is dropped (and logged)."""

    timeout: float = setting(5.0, p.number(0.1, 60), env="WEBHOOK_TIMEOUT")
    retry_base: float = setting(5.0, p.number(0.01, 3600), env="WEBHOOK_RETRY_BASE")
    retry_max: float = setting(3600.0, p.number(0.01, 86400), env="WEBHOOK_RETRY_MAX")
    max_age: int = setting(86400, p.integer(1, 7 * 86400), env="WEBHOOK_MAX_AGE")

    def check(self, dev: bool) -> None:
        if self.retry_max < self.retry_base:
            raise SettingsError("OTPGW_WEBHOOK_RETRY_MAX must be at least OTPGW_WEBHOOK_RETRY_BASE")


@dataclass(frozen=True)
class MessageSettings:
    """``/messages``: bulk and scheduled messages, and inbound SMS kept for the clients.

    Per-client caps: ``max_segments`` (per message) and ``daily_recipients`` (per UTC
    day, 0: none) apply to every client allowed to send messages; ``client_max_segments``
    and ``client_daily_recipients`` (``shop=3``; TOML: a table) set them per client.
    ``bulk_share``: the share of a worker's sending slots bulk messages may hold; the rest
    stays free for codes, so a code never waits for a slot behind a campaign.
    """

    max_recipients: int = setting(10_000, p.integer(1, 1_000_000), env="MESSAGES_MAX_RECIPIENTS")
    max_body_bytes: int = setting(1 << 20, p.integer(4096, 64 << 20), env="MESSAGES_MAX_BODY_BYTES")
    max_send_ahead: int = setting(30 * 86400, p.integer(60, 366 * 86400), env="MESSAGES_MAX_SEND_AHEAD")
    validity: int = setting(86400, p.integer(60, 7 * 86400), env="MESSAGES_VALIDITY")
    retention: int = setting(7 * 86400, p.integer(60, 90 * 86400), env="MESSAGES_RETENTION")
    inbound_retention: int = setting(7 * 86400, p.integer(60, 90 * 86400), env="MESSAGES_INBOUND_RETENTION")
    max_segments: int = setting(10, p.integer(1, 255), env="MESSAGES_MAX_SEGMENTS")
    daily_recipients: int = setting(100_000, p.integer(0, 10**9), env="MESSAGES_DAILY_RECIPIENTS")
    client_max_segments: tuple[tuple[str, int], ...] = setting(
        (), p.pairs(p.integer(1, 255)), env="MESSAGES_CLIENT_MAX_SEGMENTS")
    client_daily_recipients: tuple[tuple[str, int], ...] = setting(
        (), p.pairs(p.integer(0, 10**9)), env="MESSAGES_CLIENT_DAILY_RECIPIENTS")
    bulk_share: float = setting(0.75, p.number(0.05, 0.95), env="MESSAGES_BULK_SHARE")

    def check(self, dev: bool) -> None:
        for setting_name, pairs in (("OTPGW_MESSAGES_CLIENT_MAX_SEGMENTS", self.client_max_segments),
                                    ("OTPGW_MESSAGES_CLIENT_DAILY_RECIPIENTS", self.client_daily_recipients)):
            bad = [name for name, _ in pairs if not _CLIENT_NAME.match(name)]
            if bad:
                raise SettingsError(f"{setting_name}: {bad[0]!r} is not a client name (1-64 of A-Z a-z 0-9 . _ -)")

    def segments_for(self, client: str) -> int:
        """The most segments one message of ``client`` may cost."""
        return dict(self.client_max_segments).get(client, self.max_segments)

    def daily_recipients_for(self, client: str) -> int:
        """Recipients ``client`` may send to per UTC day (0: no cap)."""
        return dict(self.client_daily_recipients).get(client, self.daily_recipients)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = setting("INFO", p.text(choices=("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
                         env="LOG_LEVEL")

    def check(self, dev: bool) -> None:
        pass


# section name -> class, in the order of the README's settings table
SECTIONS = {
    "secrets": SecretSettings,
    "api": ApiSettings,
    "redis": RedisSettings,
    "codes": CodeSettings,
    "limits": LimitSettings,
    "lockout": LockoutSettings,
    "numbers": NumberSettings,
    "delivery": DeliverySettings,
    "totp": TotpSettings,
    "webhooks": WebhookSettings,
    "messages": MessageSettings,
    "logging": LoggingSettings,
}
