"""The store: the only code that talks to Redis, split by concern.

``Store`` holds one client, its key space and its scripts, and hands out a store per
concern: ``codes`` (issue, verify, records, delivery events), ``locks`` (lockouts and
opt-outs), ``queue`` (delivery lanes), ``messages`` (batches of /messages and their
schedule), ``inbound`` (SMS from handsets, kept for their client). Services take the
one they need. Every Redis error is mapped where it enters (``store.errors``); no redis
exception leaves here.
"""
from __future__ import annotations

from typing import Any

from ..config import Settings
from .clients import ClientStore
from .codes import CodeStore
from .connection import connect
from .errors import guard
from .factors import FactorStore
from .gates import TransportGates
from .inbound import InboundStore
from .keys import KeySpace
from .locks import LockStore
from .messages import MessageStore
from .outbox import WebhookOutbox
from .queue import GROUP, DeliveryQueue
from .references import ReferenceStore
from .scripts import Scripts

__all__ = ["GROUP", "ClientStore", "WebhookOutbox",
           "TransportGates", "CodeStore", "DeliveryQueue", "FactorStore", "InboundStore", "KeySpace", "LockStore",
           "MessageStore", "Store", "connect"]


class Store:
    def __init__(self, client: Any, settings: Settings):
        self.client = client
        self.keys = KeySpace(settings.redis.key_prefix, single_slot=settings.redis.cluster)
        self.scripts = Scripts(client)
        # A lane idle for longer than the longest code life holds only dead messages.
        lane_ttl_ms = (settings.codes.max_ttl + 300) * 1000
        self.codes = CodeStore(client, self.keys, self.scripts, lane_ttl_ms)
        self.locks = LockStore(client, self.keys, self.scripts)
        # The bulk lane holds messages for their validity (an hour more, so none expires with it).
        bulk_ttl_ms = (settings.messages.validity + 3600) * 1000
        self.queue = DeliveryQueue(client, self.keys, self.scripts, lane_ttl_ms, bulk_ttl_ms=bulk_ttl_ms,
                                   sender_ttl_ms=settings.messages.inbound_retention * 1000)
        self.messages = MessageStore(client, self.keys, self.scripts, bulk_ttl_ms=bulk_ttl_ms)
        self.inbound = InboundStore(client, self.keys, self.scripts)
        self.clients = ClientStore(client, self.keys)
        self.outbox = WebhookOutbox(client, self.keys, self.scripts)
        self.factors = FactorStore(client, self.keys, self.scripts)
        self.gates = TransportGates(client, self.keys, self.scripts)
        self.references = ReferenceStore(client, self.keys)

    @classmethod
    def connect(cls, settings: Settings, *, embedded: bool = False, blocking_ms: int = 0) -> "Store":
        return cls(connect(settings, embedded=embedded, blocking_ms=blocking_ms), settings)

    @guard
    def ping(self) -> None:
        """Readiness: Redis answers and every script is (re)loaded."""
        self.client.ping()
        scripts = list(self.scripts)
        if not all(self.client.script_exists(*[s.sha for s in scripts])):
            for script in scripts:
                self.client.script_load(script.source)

    def close(self) -> None:
        self.client.close()
