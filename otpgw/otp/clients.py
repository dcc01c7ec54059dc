"""API clients: who is calling, with which settings. No Flask and no Redis here.

``ClientRegistry`` answers, on the request path, from an in-process snapshot: the
settings' clients (``[clients.<name>]``, ``OTPGW_API_KEYS``) and, with
``OTPGW_REDIS_CLIENTS=true``, the clients ``otpgw clients add`` stored in Redis. A key is
looked up by its SHA-256 in a dict, so an unknown key never costs a Redis call (a flood
of guessed keys cannot load Redis) and a request keeps its one round trip. The Redis
part of the snapshot is reloaded (one HGETALL) by the first request after
``OTPGW_CLIENT_CACHE_TTL`` seconds (default 5); other requests meanwhile use the old
snapshot. So a client created, rotated or revoked takes effect in every API process
within that time, never later.

``ClientAdmin`` is what the ``otpgw clients`` commands do: each client is checked by the
same ``config.parse_client`` as the settings file's, its key is generated here, shown
once and stored only as a hash.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..config import ClientConfig, Settings, SettingsError, parse_client
from ..config.clients import check_unique
from ..domain import clients as ids
from ..domain.sealing import Sealer
from ..errors import OtpgwError
from ..store import ClientStore

log = logging.getLogger("otpgw.clients")


@dataclass(frozen=True)
class Snapshot:
    """Every known client, by name and by the hashes of its keys."""

    by_name: Mapping[str, ClientConfig]
    by_hash: Mapping[str, ClientConfig] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_hash", {h: c for c in self.by_name.values() for h in c.key_hashes})


class ClientRegistry:
    def __init__(self, settings: Settings, store: ClientStore | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.settings = settings
        self.store = store if settings.api.redis_clients else None
        self.sealer = Sealer(settings.secrets.keys, settings.secrets.known)
        self.default = ClientConfig("dev" if settings.dev else "anonymous")
        self._fixed = dict(settings.clients)
        self._snapshot = Snapshot(self._fixed)
        self._monotonic, self._wall = monotonic, wall
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def warn_if_open(self) -> None:
        """An API that lets callers in without a key says so at start, outside dev mode too."""
        if self.open and not self.settings.dev:
            log.warning("the API is OPEN: no client has a key and OTPGW_ALLOW_UNAUTHENTICATED is set; every call "
                        "without a key acts as client 'anonymous'. Run it only behind a gateway that authenticates.")

    @property
    def open(self) -> bool:
        """Callers without a key are let in as the default client (see ``Settings.api_open``)."""
        return self.settings.api_open

    def authenticate(self, key: str) -> ClientConfig | None:
        """The client whose key this is, or None."""
        return self.snapshot().by_hash.get(ids.key_hash(key))

    def get(self, name: str) -> ClientConfig:
        """A client's settings; a name without settings (``dev``, ``anonymous``) has the defaults."""
        return self._snapshot.by_name.get(name) or (self.default if name == self.default.name
                                                    else ClientConfig(name))

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloading Redis' part when it is older than the TTL."""
        if self.store is None or not self._stale():
            return self._snapshot
        first = self._loaded_at is None
        if self._lock.acquire(blocking=first):  # one request reloads; the others go on with the old one
            try:
                if self._stale():
                    self._reload()
            finally:
                self._lock.release()
        return self._snapshot

    def _stale(self) -> bool:
        return self._loaded_at is None or self._monotonic() - self._loaded_at >= self.settings.api.client_cache_ttl

    def _reload(self) -> None:
        try:
            records = self.store.all()
        except OtpgwError:
            if self._loaded_at is None:
                raise  # no snapshot yet: the caller gets 503, never a wrong answer
            return  # keep the last snapshot; the script of this request will answer 503 anyway
        clients = dict(self._fixed)
        for name, record in records.items():
            client = self._stored(name, record)
            if client is not None and name not in self._fixed:
                clients[name] = client
        self._snapshot = Snapshot(clients)
        self._loaded_at = self._monotonic()

    def _stored(self, name: str, record: dict[str, Any]) -> ClientConfig | None:
        """A Redis client, checked as at creation; one that no longer passes is left out, loudly."""
        if record.get("revoked_ms"):
            return None
        now_ms = int(self._wall() * 1000)
        hashes = [k["hash"] for k in record.get("keys", ()) if not k.get("expires_ms") or k["expires_ms"] > now_ms]
        table = {**record.get("settings", {}), "key_hashes": hashes}
        if record.get("webhook_secret"):
            table["webhook_secret"] = self.sealer.open(record["webhook_secret"])["secret"]
        try:
            return parse_client(name, table, self.settings.client_bounds, source="redis")
        except SettingsError as exc:
            log.error("client %s in Redis no longer fits this deployment's settings and is refused: %s", name, exc)
            return None

    def webhook_target(self, name: str) -> tuple[str, str] | None:
        """(URL, secret) of a client's webhook, or None (then its events are dropped)."""
        client = self.snapshot().by_name.get(name)
        return (client.webhook_url, client.webhook_secret) if client and client.webhook_url else None


@dataclass(frozen=True)
class Created:
    """What ``otpgw clients add`` and ``rotate`` show once: the key and the webhook secret."""

    client: ClientConfig
    key: str
    webhook_secret: str = ""


class ClientError(OtpgwError):
    """An operator's client command cannot be done; the message says why."""

    status, code = 400, "client_error"


class ClientAdmin:
    """The ``otpgw clients`` commands over the settings and the Redis clients."""

    def __init__(self, settings: Settings, store: ClientStore, *, wall: Callable[[], float] = time.time):
        self.settings = settings
        self.store = store
        self.sealer = Sealer(settings.secrets.keys, settings.secrets.known)
        self.wall = wall

    def _now_ms(self) -> int:
        return int(self.wall() * 1000)

    def add(self, name: str, table: dict[str, Any]) -> Created:
        """Check, store and return a new client with a fresh key (and webhook secret)."""
        if name in self.settings.clients:
            raise ClientError(f"client {name} is defined in the settings; change it there")
        key = ids.new_api_key()
        secret = ids.new_webhook_secret() if table.get("webhook_url") else ""
        client = parse_client(name, {**table, "keys": [key], **({"webhook_secret": secret} if secret else {})},
                              self.settings.client_bounds, source="redis")
        check_unique([*self.settings.clients.values(), *self._stored_clients(), client])
        now = self._now_ms()
        record = {"settings": table, "keys": [{"hash": client.key_hashes[0], "created_ms": now}], "created_ms": now}
        if secret:
            record["webhook_secret"] = self.sealer.seal({"secret": secret})
        if not self.store.create(name, record):
            raise ClientError(f"client {name} already exists (a revoked client's name is not reused)")
        return Created(client, key, secret)

    def _stored_clients(self) -> list[ClientConfig]:
        """The stored clients' identities (for uniqueness of SIDs), without their secrets."""
        return [ClientConfig(name, service_sid=r.get("settings", {}).get("service_sid", ""),
                             account_sid=r.get("settings", {}).get("account_sid", ""),
                             api_key_sid=r.get("settings", {}).get("api_key_sid", ""))
                for name, r in self.store.all().items() if not r.get("revoked_ms")]

    def rotate(self, name: str, *, grace_s: int = 0, webhook_secret: bool = False) -> Created:
        """A new key; the old ones stop working now, or after ``grace_s`` seconds."""
        record = self._record(name)
        now = self._now_ms()
        for old in record["keys"]:
            if not old.get("expires_ms") or old["expires_ms"] > now + grace_s * 1000:
                old["expires_ms"] = now + grace_s * 1000
        key = ids.new_api_key()
        record["keys"] = [k for k in record["keys"] if k["expires_ms"] > now] + [
            {"hash": ids.key_hash(key), "created_ms": now}]
        secret = ""
        if webhook_secret:
            if not record["settings"].get("webhook_url"):
                raise ClientError(f"client {name} has no webhook_url")
            secret = ids.new_webhook_secret()
            record["webhook_secret"] = self.sealer.seal({"secret": secret})
        self.store.save(name, record)
        table = record["settings"]
        client = ClientConfig(name, service_sid=table.get("service_sid", ""), account_sid=table.get("account_sid", ""),
                              source="redis")
        return Created(client, key, secret)

    def revoke(self, name: str) -> None:
        """Every key of the client stops working; the name stays taken, so its codes stay its own."""
        record = self._record(name)
        record.update(keys=[], revoked_ms=self._now_ms())
        record.pop("webhook_secret", None)
        self.store.save(name, record)

    def _record(self, name: str) -> dict[str, Any]:
        if name in self.settings.clients:
            raise ClientError(f"client {name} is defined in the settings; change its keys there")
        record = self.store.get(name)
        if record is None or record.get("revoked_ms"):
            raise ClientError(f"no client {name} in Redis" + (" (it was revoked)" if record else ""))
        return record

    def rows(self) -> list[dict[str, Any]]:
        """Every client for ``otpgw clients list``: names, SIDs, key ids, never a key or a secret
        (the Redis clients only when the deployment reads them)."""
        now = self._now_ms()
        rows = [_row(c, "settings", [ids.key_id(h) for h in c.key_hashes]) for c in self.settings.clients.values()]
        stored = self.store.all() if self.settings.api.redis_clients else {}
        for name, record in sorted(stored.items()):
            live = [k for k in record.get("keys", ()) if not k.get("expires_ms") or k["expires_ms"] > now]
            client = ClientConfig(name, service_sid=record.get("settings", {}).get("service_sid", ""),
                                  account_sid=record.get("settings", {}).get("account_sid", ""))
            rows.append(_row(client, "revoked" if record.get("revoked_ms") else "redis",
                             [ids.key_id(k["hash"]) for k in live], record.get("settings", {})))
        return rows


def _row(client: ClientConfig, source: str, key_ids: list[str], table: Mapping[str, Any] | None = None) -> dict:
    webhook = (table or {}).get("webhook_url", client.webhook_url)
    return {"name": client.name, "source": source, "keys": key_ids, "service_sid": client.twilio_service_sid,
            "account_sid": client.twilio_account_sid, "webhook_url": webhook or ""}
