"""The delivery worker: read lanes, hand each message to the dispatcher, recover the dead.

Delivery is at-least-once. A message is acknowledged only in the script that records its
outcome or moves it on, so a worker that dies mid-send leaves it pending, and another
worker claims it after ``worker_claim_idle`` seconds. A worker told to stop finishes the
message in hand and hands the rest of its batch straight back to its lane, so another
worker sends them at once instead of after the claim timeout.

A worker sends up to ``worker_concurrency`` messages at once (threads: carriers answer
in tens of milliseconds, and the send waits on the network, not on the CPU); a batch
holds OTP messages before bulk ones.

Codes first: bulk messages (``/messages``) may hold at most ``OTPGW_MESSAGES_BULK_SHARE``
of the sending slots, so a slot is always free for a code, and the urgent lanes are
read before the bulk lane on every pass (a rate-limited transport's tokens are shared
the same way: see ``dispatch``). A worker that reads the bulk lane also runs the
scheduler (``scheduler``), which moves due batches' messages onto it.

Which lanes a worker reads follows from the transports it owns (``lanes.lanes_for``):
one that serves the HTTP transports reads the shared lanes; one started with
``--transport <modem>`` reads that device's lane.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable, Mapping

from ..config import Settings
from ..domain.codes import Tags
from ..domain.outcomes import Lane
from ..domain.sealing import Sealer
from ..domain.signing import CallbackTokens
from ..domain.sms import QueuedMessage
from ..errors import StoreError, StoreUnavailable
from ..store import Store
from ..transports import Transport
from .bulk import Turns
from .dispatch import Dispatcher
from .lanes import SHARED, lanes_for
from .references import TaggedReferenceIndex
from .reports import DeliveryEvents
from .router import Router
from .scheduler import Scheduler

log = logging.getLogger("otpgw.delivery")
BATCH_MIN = 10  # messages read per pass, at least
PREPARE_EVERY = 0.1  # seconds between promotions of due retries while busy
BULK_RETRIES_PER_PASS = 500  # parked bulk messages put back on their lane per pass
BULK = Lane.BULK.value


class DeliveryWorker:
    def __init__(self, settings: Settings, store: Store, transports: Transport | Iterable[Transport], *,
                 clock: Callable[[], float] = time.time, consumer: str | None = None,
                 serves_shared: bool | None = None, shared_lanes: tuple[str, ...] | None = None):
        self.settings = settings
        self.store = store
        owned = [transports] if isinstance(transports, Transport) else list(transports)
        self.transports: Mapping[str, Transport] = {t.name: t for t in owned}
        self.clock = clock
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        host_bound = [t.name for t in owned if t.host_bound]
        if serves_shared is None:
            serves_shared = any(not t.host_bound for t in owned)
        self.lanes = lanes_for(host_bound, serves_shared, shared_lanes or SHARED)
        self.events = DeliveryEvents(store, settings, clock=self.now_ms)
        configured_host_bound = frozenset(host_bound) | _host_bound_names(settings)
        capacities = {name: config.capacity for name, config in settings.transports.items()}
        self.dispatcher = Dispatcher(
            store=store, transports=self.transports, capacities=capacities, router=Router(settings.routes),
            sealer=Sealer(settings.secrets.keys, settings.secrets.known),
            tokens=CallbackTokens(settings.secrets.known),
            host_bound=configured_host_bound, public_url=settings.public_url,
            max_retries=settings.delivery.max_retries, retry_base=settings.delivery.retry_base, clock=self.now_ms)
        self._next_claim = self._next_prepare = 0.0
        self._started = False
        self.concurrency = settings.delivery.concurrency
        self.batch = max(BATCH_MIN, self.concurrency)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="otpgw-send") \
            if self.concurrency > 1 else None
        share = int(self.concurrency * settings.messages.bulk_share)
        self.bulk_slots = max(1, min(self.concurrency - 1, share))  # the rest are the codes'
        self._bulk: set[Future] = set()
        self.scheduler = Scheduler(store.messages, self.now_ms) if BULK in self.lanes else None
        self.turns = Turns(self.bulk_slots, self.now_ms)  # bulk messages waiting for a token, in no slot
        self.dispatcher.defer = self.turns.defer

    @property
    def name(self) -> str:
        """The worker's transports, for logs."""
        return ",".join(self.transports)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def start(self) -> None:
        """Start the transports' background work (once)."""
        if self._started:
            return
        tags = Tags(self.settings.secrets.tagging_key)
        for transport in self.transports.values():
            transport.use_index(TaggedReferenceIndex(self.store.references, tags, transport.name))
            transport.start(self.events.apply)
        self._started = True

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; messages in hand are finished first.

        Sends overlap: new messages are read as soon as a sending slot frees up, so one
        slow carrier answer never holds back the other ``worker_concurrency - 1`` slots.
        """
        log.info("worker %s reading %s with %s", self.consumer, ", ".join(self.lanes), self.name)
        inflight: set[Future] = set()
        while not stop.is_set():
            try:
                self.start()
                inflight = self._fill(inflight, stop)
            except (StoreUnavailable, StoreError):
                stop.wait(1.0)  # logged where it happened; Redis may come back
        wait(inflight)
        self._release_waiting()

    def _fill(self, inflight: set[Future], stop: threading.Event) -> set[Future]:
        """Read as many messages as there are free slots and start them; wait a little
        for a slot when all are busy."""
        free = self.concurrency - len(inflight)
        if free <= 0:
            return wait(inflight, timeout=0.5, return_when=FIRST_COMPLETED).not_done
        if time.monotonic() >= self._next_prepare:
            self._next_prepare = time.monotonic() + PREPARE_EVERY
            self._prepare()
        self._bulk &= inflight
        due = self.turns.due(min(free, self.bulk_slots - len(self._bulk)))
        bulk_room = self.bulk_slots - len(self._bulk) - len(due) - len(self.turns)
        block = 0 if inflight or due or self.turns else min(self.settings.delivery.block_ms,
                                                             int(PREPARE_EVERY * 1000))
        batch = self._claim() or due + self._read(free - len(due), bulk_room, block)
        if not batch:
            if inflight:
                return wait(inflight, timeout=0.02, return_when=FIRST_COMPLETED).not_done
            stop.wait(0.02 if self.turns else 0.05 if block == 0 else 0)  # an embedded store does not block
            return inflight
        if self._pool is None:
            for message in batch:
                self._handle(message, stop)
            return inflight
        started = {self._pool.submit(self._handle, message, stop): message for message in batch}
        self._bulk |= {future for future, message in started.items() if message.lane == BULK}
        return inflight | set(started)

    def _prepare(self) -> None:
        """Put due retries back on their lanes, and due batches' messages on the bulk lane."""
        now = self.now_ms()
        for lane in self.lanes:
            self.store.queue.prepare(lane, now, BULK_RETRIES_PER_PASS if lane == BULK else 100)
        if self.scheduler is not None:
            self.scheduler.promote()

    def _read(self, free: int, bulk_room: int, block_ms: int) -> list[QueuedMessage]:
        """New messages for ``free`` slots: the urgent lanes' first, bulk only into the slots
        it may hold. Blocks (up to ``block_ms``) only when every lane it reads is empty."""
        if free <= 0:
            return []
        urgent = [lane for lane in self.lanes if lane != BULK]
        bulk = min(free, bulk_room) if BULK in self.lanes else 0
        got = self.store.queue.read(urgent, self.consumer, free, 0) if urgent else []
        bulk = min(bulk, free - len(got))
        if bulk > 0:
            got += self.store.queue.read([BULK], self.consumer, bulk, 0)
        if got or not block_ms:
            return got
        lanes = urgent + ([BULK] if bulk > 0 else [])
        count = max(1, min(free // 2, bulk)) if bulk > 0 else free  # a count per lane: stay within free
        return self.store.queue.read(lanes, self.consumer, count, block_ms) if lanes else []

    def run_once(self, stop: threading.Event | None = None, *, block_ms: int = 0) -> int:
        """One pass: promote due retries, claim orphans, read new messages, send them."""
        self.start()
        self._prepare()
        due = self.turns.due(self.bulk_slots)
        room = self.bulk_slots - len(due) - len(self.turns)
        batch = self._claim() or due + self._read(self.batch - len(due), room, 0 if self.turns else block_ms)
        if not batch and self.turns:  # only messages waiting for their turn: a moment, then go on
            time.sleep(0.02)
            return len(self.turns)
        if self._pool is None or len(batch) <= 1:
            return sum(self._handle(message, stop) for message in batch)
        return sum(f.result() for f in [self._pool.submit(self._handle, m, stop) for m in batch])

    def _handle(self, message: QueuedMessage, stop: threading.Event | None) -> int:
        """Send one message, or hand it back untouched when the worker is stopping."""
        if stop is not None and stop.is_set():
            self._hand_back([message])
            return 0
        self.dispatcher.handle(message)
        return 1

    def _release_waiting(self) -> None:
        """Hand bulk messages waiting for their turn back to their lane, each due at its turn."""
        now = self.now_ms()
        for due_ms, message in self.turns.drain():
            self.store.queue.move(message, message.lane, due_ms, now)

    def _claim(self) -> list[QueuedMessage]:
        if time.monotonic() < self._next_claim:
            return []
        self._next_claim = time.monotonic() + min(5.0, self.settings.delivery.claim_idle / 2)
        idle_ms = self.settings.delivery.claim_idle * 1000
        return [m for lane in self.lanes
                for m in self.store.queue.claim_stale(lane, self.consumer, idle_ms, self.batch)]

    def _hand_back(self, rest: list[QueuedMessage]) -> None:
        """Put messages not yet started back on their lane, due now, for another worker."""
        now = self.now_ms()
        for message in rest:
            self.store.queue.move(message, message.lane, now, now)
        log.info("stopping: %d message(s) handed back to their lane", len(rest))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        try:
            self._release_waiting()
        except (StoreUnavailable, StoreError):
            pass  # they stay pending on their lane: another worker claims them
        for transport in self.transports.values():
            transport.close()


def _host_bound_names(settings: Settings) -> frozenset[str]:
    """Configured transports whose type is host-bound, without importing their code."""
    from ..transports import transport_class

    return frozenset(name for name, config in settings.transports.items()
                     if getattr(transport_class(config.type), "host_bound", False))
