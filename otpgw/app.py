"""create_app(): settings -> store -> services -> web. Wiring only."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from .config import Settings, load_settings
from .delivery.callbacks import CallbackHub
from .delivery.lanes import SHARED
from .delivery.reports import DeliveryEvents
from .domain.signing import CallbackTokens
from .events import metrics
from .otp.clients import ClientRegistry
from .otp.factors import FactorService
from .otp.messages import MessageService
from .otp.recovery import RecoveryService
from .otp.service import OtpService
from .otp.totp import TotpService
from .store import Store, connect
from .transports import build_transport
from .web import Probes, init_api

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: Settings | None = None, *, redis_client: Any = None, embedded: bool = False,
               clock: Callable[[], float] | None = None, inbox: Any = None) -> "Flask":
    """``inbox``: dev mode's simulated phone (``web.demo.Inbox``), shown by the demo page."""
    settings = settings or load_settings()
    store = Store(redis_client or connect(settings, embedded=embedded), settings)
    clients = ClientRegistry(settings, store.clients)
    clients.warn_if_open()
    service = OtpService(settings, store.codes, clock=clock or time.time, clients=clients)

    def ready() -> dict[str, Any]:
        store.ping()
        return {}

    def refresh() -> None:
        metrics.observe_lanes(store.queue, SHARED, service.now_ms())

    app = init_api("otpgw", Probes(ready, refresh), max_body_bytes=settings.api.max_body_bytes,
                   body_timeout=settings.api.body_timeout, demo=settings.dev)
    app.extensions.update({"otpgw.clients": clients, "otpgw.inbox": inbox})
    app.extensions.update({"otpgw.settings": settings, "otpgw.store": store, "otpgw.service": service,
                           "otpgw.callbacks": callback_hub(settings, store, service.now_ms)})
    tick = clock or time.time
    app.extensions["otpgw.messages"] = MessageService(settings, store, clients=clients, clock=tick)
    app.extensions.update({"otpgw.totp": TotpService(settings, store.factors, clock=tick),
                           "otpgw.recovery": RecoveryService(settings, store.factors, clock=tick),
                           "otpgw.factors": FactorService(settings, store.factors, clock=tick)})
    return app


def callback_hub(settings: Settings, store: Store, clock: Callable[[], int]) -> CallbackHub:
    """Every configured transport, built (never started: the API opens no device) to read
    its carrier's callbacks."""
    transports = {name: build_transport(config) for name, config in settings.transports.items()}
    return CallbackHub(transports, CallbackTokens(settings.secrets.known), DeliveryEvents(store, settings, clock=clock))
