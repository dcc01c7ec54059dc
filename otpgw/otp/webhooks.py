"""The webhook dispatcher of a worker process: the store's outbox, the clients' webhook targets."""
from __future__ import annotations

import time
from typing import Callable

from ..config import Settings
from ..events.webhooks import WebhookDispatcher
from ..store import Store
from .clients import ClientRegistry


def webhook_dispatcher(settings: Settings, store: Store, *, clock: Callable[[], float] = time.time,
                       sender: Callable[..., int] | None = None) -> WebhookDispatcher:
    """A dispatcher that knows the clients this deployment knows (settings, and Redis when on)."""
    registry = ClientRegistry(settings, store.clients)
    hooks = settings.webhooks
    extra = {"sender": sender} if sender else {}
    return WebhookDispatcher(store.outbox, registry.webhook_target, timeout=hooks.timeout,
                             retry_base=hooks.retry_base, retry_max=hooks.retry_max, max_age=hooks.max_age,
                             clock=clock, **extra)
