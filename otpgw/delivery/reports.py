"""Delivery events from any source, applied in one place.

A carrier's callback (through the API's callback view), a modem's ``+CDS`` (through the
worker's transport sink) and the worker's own outcome all become a ``DeliveryReport``;
this applies it to the record of the code or the message (``/messages``) it is about,
where the store's rule keeps the status moving only forward (late, repeated and
out-of-order reports are harmless). An inbound message with an opt-out keyword opts its
sender out; ``START`` opts back in; every inbound message is then kept for the client it
belongs to, if any (``inbound.Inbox``).
"""
from __future__ import annotations

import logging
from typing import Callable

from ..config import Settings
from ..domain.codes import Tags, is_valid_id, tag_of
from ..domain.inbound import Keyword, keyword_of
from ..domain.messages import parse_message_id
from ..domain.phones import mask
from ..domain.sealing import Sealer
from ..domain.sms import DeliveryReport, InboundMessage
from ..events import metrics
from ..events.audit import audit
from ..store import Store
from .inbound import Inbox

log = logging.getLogger("otpgw.delivery")


class DeliveryEvents:
    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], int]):
        self.store = store
        self.tags = Tags(settings.secrets.tagging_key)
        self.now_ms = clock
        self.inbox = Inbox(store.inbound, Sealer(settings.secrets.keys, settings.secrets.known), self.tags,
                           retention_s=settings.messages.inbound_retention, clock=clock)

    def apply(self, event: DeliveryReport | InboundMessage) -> bool:
        """Apply one event; True if it changed something."""
        if isinstance(event, InboundMessage):
            return self.inbound(event)
        return self.report(event)

    def report(self, report: DeliveryReport) -> bool:
        message = parse_message_id(report.reference)
        if message is not None:
            changed = self.store.messages.record_delivery(*message, report.reference, report, self.now_ms())
        elif is_valid_id(report.reference):
            changed = self.store.codes.record_delivery(tag_of(report.reference), report.reference, report,
                                                       self.now_ms())
        else:
            log.info("delivery report from %s for no known message", report.transport)
            return False
        metrics.REPORTS.labels(transport=report.transport, status=report.status.value).inc()
        return changed

    def inbound(self, message: InboundMessage) -> bool:
        keyword = keyword_of(message.text)
        metrics.INBOUND.labels(transport=message.transport, keyword=keyword.value).inc()
        if keyword is Keyword.NONE:
            log.info("inbound message from %s via %s", mask(message.sender), message.transport)
        else:
            opted_out = keyword is Keyword.STOP
            self.store.locks.set_opt_out(self.tags.phone(message.sender), opted_out)
            audit("sms.opt_out" if opted_out else "sms.opt_in", phone=message.sender, transport=message.transport)
        kept = self.inbox.keep(message, keyword)
        return keyword is not Keyword.NONE or kept is not None
