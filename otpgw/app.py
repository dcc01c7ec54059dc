"""create_app(): settings -> store -> services -> web. Wiring only."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from .config import Settings, load_settings
from .delivery.lanes import SHARED
from .events import metrics
from .otp.service import OtpService
from .store import Store, connect
from .web import Probes, init_api

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: Settings | None = None, *, redis_client: Any = None, embedded: bool = False,
               clock: Callable[[], float] | None = None) -> "Flask":
    settings = settings or load_settings()
    store = Store(redis_client or connect(settings, embedded=embedded), settings)
    service = OtpService(settings, store.codes, clock=clock or time.time)

    def ready() -> dict[str, Any]:
        store.ping()
        return {}

    def refresh() -> None:
        metrics.observe_lanes(store.queue, SHARED, service.now_ms())

    app = init_api("otpgw", Probes(ready, refresh), max_body_bytes=settings.api.max_body_bytes,
                   body_timeout=settings.api.body_timeout)
    app.extensions.update({"otpgw.settings": settings, "otpgw.store": store, "otpgw.service": service})
    return app
