"""InboundStore: the SMS handsets send to us, kept for the client they belong to.

A reply belongs to the client whose message last left for that number (its key is
written by ``update_message`` when a message is sent, and lives as long as inbound
messages are kept). Each client's inbound messages are one stream, trimmed by age; the
sender, recipient and text are sealed by the caller.
"""
from __future__ import annotations

from typing import Any

from ..domain.messages import InboundRecord
from .codes import text
from .errors import guard
from .keys import KeySpace
from .outbox import outbox_key
from .scripts import Scripts


class InboundStore:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts):
        self.client = client
        self.keys = keys
        self.scripts = scripts

    @guard
    def owner(self, phone_tag: str) -> tuple[str, bool] | None:
        """(client, has a webhook) of the client that last sent a message to this phone, or None."""
        value = self.client.get(self.keys.last_sender(phone_tag))
        if value is None:
            return None
        raw = text(value)
        return raw[1:], raw[:1] == "1"

    @guard
    def add(self, client: str, sealed: str, *, transport: str, keyword: str, now_ms: int, retention_ms: int,
            hook: bool) -> str:
        """Keep one inbound message for ``client`` (and report it when ``hook``); returns its id."""
        keys = dict(inbox=self.keys.inbox(client), outbox=outbox_key(self.keys))
        args = dict(client=client, sealed=sealed, transport=transport, keyword=keyword, now=now_ms,
                    retention=retention_ms, hook=hook)
        return text(self.scripts.store_inbound(keys=keys, args=args))

    @guard
    def recent(self, client: str, count: int, before: str = "") -> list[InboundRecord]:
        """The client's newest inbound messages, newest first, older than ``before`` if given."""
        newest = f"({before}" if before else "+"
        entries = self.client.xrevrange(self.keys.inbox(client), max=newest, min="-", count=count)
        return [_record(client, entry, fields) for entry, fields in entries]

    @guard
    def get(self, client: str, inbound_id: str) -> InboundRecord | None:
        entries = self.client.xrange(self.keys.inbox(client), min=inbound_id, max=inbound_id)
        return _record(client, *entries[0]) if entries else None


def _record(client: str, entry: Any, fields: dict) -> InboundRecord:
    values = {text(k): text(v) for k, v in fields.items()}
    return InboundRecord(text(entry), client, values["sealed"], values.get("transport", ""), int(values.get("at", 0)),
                         values.get("keyword", ""))
