"""RedisStore: the only code that talks to Redis.

Every operation on the request path is one EVALSHA of one script in ``lua/``; each
script checks its limits and applies its updates atomically, so concurrent gunicorn
workers can never both pass a limit or both approve one code. The caller passes
``now``; scripts never read the clock. Any Redis failure surfaces as
``StoreUnavailable`` (HTTP 503): the store fails closed, never open.
"""
from __future__ import annotations

import enum
import functools
import json
import logging
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, TypeVar

import redis

from .codes import tag_of
from .config import Settings
from .errors import StoreUnavailable
from .keys import KeySpace

log = logging.getLogger(__name__)
T = TypeVar("T")
GROUP = "workers"
DAY_MS = 86400 * 1000
OPT_OUT_TTL_MS = 400 * 86400 * 1000  # consent records are kept about 13 months


class Outcome(str, enum.Enum):
    """What a verify attempt came to; the API's ``reason`` is this value."""

    APPROVED = "approved"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    EXPIRED = "expired"
    MAX_ATTEMPTS = "max_attempts"
    ALREADY_USED = "already_used"
    CANCELED = "canceled"


@dataclass(frozen=True)
class NewCode:
    """Everything the send script needs; identities are tags, the message is sealed."""

    code_id: str
    phone_tag: str
    digest: str
    country: str
    client: str
    transport: str
    sealed: str
    now_ms: int
    ttl_ms: int
    locale: str
    user_tag: str = ""
    ip_tag: str = ""
    prefix: str = ""  # the configured number prefix this phone falls under, if any
    prefix_cap: int = 0

    @property
    def day(self) -> str:
        """The UTC day of the send (YYYY-MM-DD): daily caps count per UTC day."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.now_ms // 1000))

    @property
    def ms_to_day_end(self) -> int:
        return DAY_MS - self.now_ms % DAY_MS


@dataclass(frozen=True)
class SendOutcome:
    """``refusal`` is '' when issued, else opted_out, locked or rate_limited."""

    refusal: str
    retry_after_ms: int
    limit: str


@dataclass(frozen=True)
class Attempt:
    phone_tag: str
    code_id: str  # '' means the phone's newest code
    candidates: list[str]
    client: str
    now_ms: int
    user_tag: str = ""
    ip_tag: str = ""


@dataclass(frozen=True)
class AttemptOutcome:
    outcome: Outcome
    code_id: str
    attempts_left: int
    retry_after_ms: int
    limit: str
    lock_started: bool = False


@dataclass(frozen=True)
class QueuedMessage:
    entry_id: str
    code_id: str
    sealed: str
    deadline_ms: int
    attempt: int

    def fields(self) -> dict[str, Any]:
        return {"id": self.code_id, "sealed": self.sealed, "deadline": self.deadline_ms, "attempt": self.attempt}


def _guard(method: Callable[..., T]) -> Callable[..., T]:
    """Map every Redis failure to StoreUnavailable at the boundary."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except redis.exceptions.RedisError as exc:
            log.warning("redis unavailable: %s", type(exc).__name__)
            raise StoreUnavailable() from exc

    return wrapper


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    SCRIPTS = ("send_code", "verify_code", "cancel_code", "record_delivery", "finish_message",
               "retry_message", "promote_due", "release_lock")

    def __init__(self, client: redis.Redis, settings: Settings):
        self.client = client
        self.settings = settings
        self.keys = KeySpace(settings.key_prefix, single_slot=settings.redis_cluster)
        lua = resources.files("otpgw") / "lua"
        prelude = (lua / "_prelude.lua").read_text()
        self._scripts = {name: client.register_script(prelude + (lua / f"{name}.lua").read_text())
                         for name in self.SCRIPTS}

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return self._scripts[name](keys=keys, args=args)

    # -- request path -------------------------------------------------------------
    @_guard
    def issue(self, new: NewCode) -> SendOutcome:
        s, k, tag = self.settings, self.keys, new.phone_tag
        user_keys = [k.user(new.user_tag, kind) if new.user_tag else "" for kind in ("fails", "level")]
        keys = [k.phone(tag, "lock"), k.user(new.user_tag, "lock"), k.phone(tag, "optout"),
                k.phone(tag, "cooldown"), k.phone(tag, "sends"), k.client_ip(new.ip_tag, "send"),
                k.country_day(new.country, new.day), k.newest(tag, new.client),
                k.record(tag, new.code_id), k.digest(tag, new.code_id), k.stream(new.transport),
                k.prefix_day(new.prefix, new.day)]
        args = [new.now_ms, new.code_id, new.digest, new.ttl_ms, new.ttl_ms + s.retention * 1000,
                s.resend_cooldown * 1000, s.send_window * 1000, s.send_window_max,
                s.ip_send_max if new.ip_tag else 0, s.ip_window * 1000, s.daily_limit_for(new.country),
                new.ms_to_day_end, new.sealed, self.stream_ttl_ms,
                k.record_prefix(tag), k.digest_prefix(tag), new.prefix_cap,
                new.client, new.country, new.locale, new.transport, new.user_tag, *user_keys]
        refusal, retry_ms, limit = self._run("send_code", keys, args)
        refusal = _text(refusal)
        return SendOutcome("" if refusal == "ok" else refusal, int(retry_ms), _text(limit))

    @_guard
    def verify(self, attempt: Attempt) -> AttemptOutcome:
        s, k, tag = self.settings, self.keys, attempt.phone_tag
        keys = [k.newest(tag, attempt.client), k.phone(tag, "lock"), k.phone(tag, "fails"),
                k.phone(tag, "level"), k.client_ip(attempt.ip_tag, "verify")]
        args = [attempt.now_ms, attempt.code_id, k.record_prefix(tag), k.digest_prefix(tag),
                attempt.client, attempt.user_tag, s.max_attempts, s.lockout_threshold,
                s.lockout_window * 1000, s.lockout_base * 1000, s.lockout_max * 1000,
                (s.lockout_max + s.lockout_window) * 1000, s.ip_window * 1000,
                s.ip_verify_max if attempt.ip_tag else 0, *attempt.candidates]
        reply = self._run("verify_code", keys, args)
        outcome, code_id, left, retry_ms, limit = reply[:5]
        return AttemptOutcome(Outcome(_text(outcome)), _text(code_id), int(left), int(retry_ms), _text(limit),
                              lock_started=len(reply) > 5)

    @_guard
    def record(self, phone_tag: str, code_id: str) -> dict[str, str] | None:
        raw = self.client.hgetall(self.keys.record(phone_tag, code_id))
        return {_text(f): _text(v) for f, v in raw.items()} or None

    @_guard
    def cancel(self, phone_tag: str, code_id: str, client: str, now_ms: int) -> str:
        k = self.keys
        keys = [k.record(phone_tag, code_id), k.digest(phone_tag, code_id)]
        return _text(self._run("cancel_code", keys, [code_id, client, now_ms]))

    # -- operator -----------------------------------------------------------------
    @_guard
    def release(self, scope: str, tag: str) -> bool:
        """scope is 'phone' or 'user'; clears the lock, the failure count and the level."""
        build = self.keys.phone if scope == "phone" else self.keys.user
        return bool(self._run("release_lock", [build(tag, "lock"), build(tag, "fails"), build(tag, "level")], []))

    @_guard
    def set_opt_out(self, phone_tag: str, opted_out: bool) -> None:
        key = self.keys.phone(phone_tag, "optout")
        if opted_out:
            self.client.set(key, "1", px=OPT_OUT_TTL_MS)
        else:
            self.client.delete(key)

    # -- delivery -----------------------------------------------------------------
    @property
    def stream_ttl_ms(self) -> int:
        """A queue idle for longer than the longest code life holds only dead messages."""
        return (self.settings.max_code_ttl + 300) * 1000

    @_guard
    def record_delivery(self, phone_tag: str, code_id: str, status: str, now_ms: int, *,
                        transport: str = "", carrier_ids: tuple[str, ...] = (), detail: str = "") -> bool:
        args = [status, transport, now_ms, ",".join(carrier_ids), detail]
        return bool(self._run("record_delivery", [self.keys.record(phone_tag, code_id)], args))

    @_guard
    def ensure_group(self, transport: str) -> None:
        try:
            self.client.xgroup_create(self.keys.stream(transport), GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @_guard
    def read_messages(self, transport: str, consumer: str, count: int, block_ms: int) -> list[QueuedMessage]:
        """New messages for this consumer; recreates the group if the idle queue expired."""
        stream = self.keys.stream(transport)
        try:
            reply = self.client.xreadgroup(GROUP, consumer, {stream: ">"}, count=count, block=block_ms or None)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group(transport)  # the group starts at 0: nothing queued before is missed
            reply = self.client.xreadgroup(GROUP, consumer, {stream: ">"}, count=count)
        return [self._message(entry_id, fields) for _, entries in reply or [] for entry_id, fields in entries]

    @_guard
    def claim_stale(self, transport: str, consumer: str, idle_ms: int, count: int) -> list[QueuedMessage]:
        """Messages another worker took and left unacknowledged for ``idle_ms``: it died."""
        try:
            reply = self.client.xautoclaim(self.keys.stream(transport), GROUP, consumer, idle_ms, count=count)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            return []
        return [self._message(entry_id, fields) for entry_id, fields in reply[1] if fields]

    @staticmethod
    def _message(entry_id: Any, fields: dict) -> QueuedMessage:
        f = {_text(k): _text(v) for k, v in fields.items()}
        return QueuedMessage(_text(entry_id), f["id"], f["sealed"], int(f["deadline"]), int(f["attempt"]))

    @_guard
    def finish(self, transport: str, message: QueuedMessage, status: str, now_ms: int, *,
               carrier_ids: tuple[str, ...] = (), detail: str = "") -> bool:
        keys = [self.keys.stream(transport), self.keys.record(tag_of(message.code_id), message.code_id)]
        args = [GROUP, message.entry_id, status, transport, now_ms, ",".join(carrier_ids), detail]
        return bool(self._run("finish_message", keys, args))

    @_guard
    def retry_later(self, transport: str, message: QueuedMessage, due_ms: int, now_ms: int, detail: str) -> bool:
        entry = json.dumps({**message.fields(), "attempt": message.attempt + 1}, sort_keys=True)
        keys = [self.keys.stream(transport), self.keys.retries(transport),
                self.keys.record(tag_of(message.code_id), message.code_id)]
        return bool(self._run("retry_message", keys, [GROUP, message.entry_id, due_ms, entry,
                                                       self.stream_ttl_ms, now_ms, detail]))

    @_guard
    def promote_due(self, transport: str, now_ms: int, limit: int = 100) -> int:
        keys = [self.keys.stream(transport), self.keys.retries(transport)]
        return int(self._run("promote_due", keys, [now_ms, limit, self.stream_ttl_ms]))

    @_guard
    def queue_stats(self, transport: str) -> tuple[int, int | None]:
        """(pending-or-waiting count, id-time of the oldest entry in ms or None)."""
        stream = self.keys.stream(transport)
        length = self.client.xlen(stream) + self.client.zcard(self.keys.retries(transport))
        first = self.client.xrange(stream, count=1)
        return length, int(_text(first[0][0]).split("-")[0]) if first else None

    # -- health -------------------------------------------------------------------
    @_guard
    def ping(self) -> None:
        """Readiness: Redis answers and every script is (re)loaded."""
        self.client.ping()
        shas = [script.sha for script in self._scripts.values()]
        if not all(self.client.script_exists(*shas)):
            for script in self._scripts.values():
                self.client.script_load(script.script)
