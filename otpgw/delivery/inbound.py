"""Inbound SMS that reach a client: attributed, sealed, kept for a while and reported.

Which client a reply belongs to: the client whose message (``/messages``) last left for
that number within ``OTPGW_MESSAGES_INBOUND_RETENTION``. That is the conversation the
handset is answering, it needs no configuration, and a client never sees replies from
numbers it never wrote to. A message from a number no client wrote to (or only sent
codes to: a login flow asked for no replies) is logged, masked, and not kept. Opt-out
and opt-in keywords are applied for everyone (``reports``) and also reach the client,
with their ``keyword``, so it can keep its own lists right.
"""
from __future__ import annotations

import logging
from typing import Callable

from ..domain.codes import Tags
from ..domain.inbound import Keyword
from ..domain.phones import mask
from ..domain.sealing import Sealer
from ..domain.sms import InboundMessage
from ..store.inbound import InboundStore

log = logging.getLogger("otpgw.inbound")


class Inbox:
    def __init__(self, store: InboundStore, sealer: Sealer, tags: Tags, *, retention_s: int,
                 clock: Callable[[], int]):
        self.store = store
        self.sealer = sealer
        self.tags = tags
        self.retention_ms = retention_s * 1000
        self.now_ms = clock

    def keep(self, message: InboundMessage, keyword: Keyword) -> str | None:
        """Keep ``message`` for the client it belongs to; its id there, or None if it belongs to none."""
        owner = self.store.owner(self.tags.phone(message.sender))
        if owner is None:
            log.info("inbound message from %s via %s: no client wrote to this number lately; not kept",
                     mask(message.sender), message.transport)
            return None
        client, hook = owner
        sealed = self.sealer.seal({"from": message.sender, "to": message.recipient, "text": message.text})
        return self.store.add(client, sealed, transport=message.transport, keyword=keyword.value,
                              now_ms=self.now_ms(), retention_ms=self.retention_ms, hook=hook)
