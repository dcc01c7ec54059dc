"""One modem on one port: a supervisor thread that opens it, brings it up, watches it and
reopens it, and the send path worker threads call.

The supervisor's cycle (states in ``state.ModemState``):

1. open the port (``serial.serial_for_url``: a device path or a pyserial URL) and start
   the channel's reader; after every ``reset_after`` failed cycles in a row, write the
   reset command first, close, and give the modem ``reset_wait`` seconds to reboot;
2. probe with ``AT`` (falling back through common baud rates), ``ATE0``, ``AT+CMEE=1``;
3. SIM: ``AT+CPIN?``; the configured PIN is sent once. A refused PIN, a missing one or
   a PUK stops here for good (``SIM_BLOCKED``) - three wrong PINs lock a SIM, so only a
   human may try again;
4. wait for registration (home or roaming) up to ``registration_timeout``;
5. ``AT+CMGF``, ``AT+CSMS=1``, ``AT+CNMI``; read what was stored meanwhile; READY;
6. serve: URCs from the channel (reports, inbound) and, every ``keepalive`` seconds,
   ``AT+CSQ`` and ``AT+CREG?`` as a watchdog.

Any I/O error, a vanished device, a hung modem (a command that times out and will not
resync), a modem restart or repeated send trouble ends the cycle: the port is closed and
reopened after a back-off of ``reopen_backoff * 2**(n-1)`` seconds for the n-th failure in
a row, capped at ``reopen_backoff_max``.
"""
from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import serial

from ...domain.sms import Message, Receipt
from ...domain.textcodec import encoding_for
from ..base import PermanentTransportError, TemporaryTransportError
from . import metrics
from .address import PduError
from .at import AtChannel, Urc, UrcKind
from .errors import Fault, ModemError, PortError, RegistrationError, SimError, transport_error
from .inbox import Inbox
from .pdu import split_text, submit_parts
from .reports import DeliveryLedger, carrier_id
from .session import ModemSession
from .settings import ModemSettings
from .state import ModemFacts, ModemState, SimState, csq_dbm

log = logging.getLogger("otpgw.transports.gsm")

TROUBLE_LIMIT = 3  # send failures in a row that make the supervisor reopen the modem
_SEND_TROUBLE = {Fault.TROUBLE, Fault.TIMEOUT, Fault.NO_PROMPT, Fault.OUTCOME_UNKNOWN, Fault.PORT}


class _Restart(ModemError):
    """Ends a serving cycle on purpose (reset written, modem rebooted, trouble)."""


class Modem:
    """See the module docstring. ``send`` may be called from many threads at once."""

    def __init__(self, modem_id: str, url: str, settings: ModemSettings, *, transport: str,
                 ledger: DeliveryLedger, clock_ms: Callable[[], int], on_change: Callable[[], None] = lambda: None):
        self.id, self.url, self.settings, self.transport = modem_id, url, settings, transport
        self.ledger = ledger
        self.clock_ms = clock_ms
        self.inbox = Inbox(transport, modem_id, ledger, settings.reassembly_timeout, clock_ms)
        self.facts = ModemFacts()
        self._on_change = on_change
        self._events: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._session: ModemSession | None = None
        self._session_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._generation = 0
        self._troubles = 0
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._reset_at = 0
        self._concat_ref = int(time.time()) % 256
        self._thread = threading.Thread(target=self._run, name=f"otpgw-{modem_id}-supervisor", daemon=True)

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._events.put((None, 0.0, None))
        self._drop_session()  # fails a command in flight at once
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._drop_session()
        self._set(ModemState.STOPPED)

    @property
    def ready(self) -> bool:
        return self.facts.state is ModemState.READY

    @property
    def busy(self) -> int:
        """Sends in progress or waiting for this modem (for the least-busy pool strategy)."""
        return self._busy

    # -- sending (worker threads) ----------------------------------------------------------

    def send(self, message: Message) -> Receipt:
        """Submit every part once; the contract's errors only (see ``errors``)."""
        with self._counted():
            session = self._session
            if session is None or not self.ready:
                raise TemporaryTransportError(f"modem {self.id} is not ready ({self.facts.state.value})")
            try:
                ids = self._submit(session, message)
            except PduError as exc:
                raise PermanentTransportError(f"modem {self.id}: {exc}") from exc
            except ModemError as exc:
                self._trouble(exc)
                raise transport_error(exc, self.id) from exc
        self._troubles = 0
        return Receipt(tuple(ids), len(ids), encoding_for(message.text))

    def _submit(self, session: ModemSession, message: Message) -> list[str]:
        """The parts go out back to back under one lock, so a handset gets them together.
        The validity period is the code's life left, capped, never more."""
        validity = min(message.validity_s(self.clock_ms()), self.settings.validity_max)
        report = self.settings.status_reports
        ids = []
        with self._send_lock:
            for send in self._part_sends(session, message, validity, report):
                mr = send()
                if report:
                    self.ledger.remember(self.id, mr, message.destination, message.reference, validity)
                ids.append(carrier_id(self.id, mr))
        return ids

    def _part_sends(self, session: ModemSession, message: Message, validity: int,
                    report: bool) -> list[Callable[[], int]]:
        """One call per part, each returning its TP-MR. Text mode has no user data
        header, so its parts travel as separate SMS."""
        encoding = encoding_for(message.text)
        if session.text_mode:
            return [functools.partial(session.send_text, message.destination, part, encoding, validity, report)
                    for part in split_text(message.text)]
        self._concat_ref = (self._concat_ref + 1) % (1 << self.settings.concat_reference)
        pdus = submit_parts(message.destination, message.text, reference=self._concat_ref,
                            wide=self.settings.concat_reference == 16, validity_s=validity, report=report,
                            smsc=self.settings.smsc, enhanced_validity=self.settings.enhanced_validity)
        return [functools.partial(session.send_pdu, pdu) for pdu in pdus]

    @contextmanager
    def _counted(self) -> Iterator[None]:
        with self._busy_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _trouble(self, exc: ModemError) -> None:
        """Count a failed send; modem trouble repeated ``TROUBLE_LIMIT`` times reopens it."""
        metrics.error(self.transport, self.id, exc.fault)
        self.facts.last_error = str(exc)
        if exc.fault not in _SEND_TROUBLE:
            return
        self._troubles += 1
        if self._troubles >= TROUBLE_LIMIT:
            self._troubles = 0
            self._events.put((self._generation, time.monotonic(), Urc(UrcKind.LOST, "repeated send trouble")))

    # -- the supervisor thread ---------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            pause = 0.0
            try:
                session = self._connect(failures)
                failures = 0
                self._serve(session)
            except SimError as exc:
                self._blocked(exc)
                return
            except _Restart as exc:
                log.info("%s: %s", self.id, exc)
            except Exception as exc:  # ModemError, or a reply no parser foresaw: never end supervision
                if self._stop.is_set():
                    break
                failures += 1
                self._failed(exc, failures)
                pause = self._backoff(failures)
            self._drop_session()
            if not self._stop.is_set():
                self._set(ModemState.BACKOFF)
                self._stop.wait(pause)
        self._drop_session()

    def _backoff(self, failures: int) -> float:
        """``reopen_backoff * 2**(n-1)`` for the n-th failure in a row, capped."""
        return min(self.settings.reopen_backoff * 2 ** (failures - 1), self.settings.reopen_backoff_max)

    def _connect(self, failures: int) -> ModemSession:
        self._step(ModemState.OPENING)
        session = self._open()
        if self._reset_due(failures):
            self._reset(session, failures)
        self._step(ModemState.PROBING)
        session.probe()
        session.basics()
        self._step(ModemState.UNLOCKING)
        self._unlock(session)
        self.facts.model = session.model()
        self._step(ModemState.REGISTERING)
        self._await_registration(session)
        self._step(ModemState.CONFIGURING)
        session.configure()
        self.facts.operator, self.facts.signal_dbm = session.operator(), session.signal()
        metrics.signal(self.transport, self.id, self.facts.signal_dbm)
        self.inbox.drain(session)
        self.facts.last_error, self._reset_at = "", 0
        self._set(ModemState.READY)
        return session

    def _open(self) -> ModemSession:
        """Open the port and start its reader; every open is a new generation, so events
        of an earlier channel cannot end this one."""
        try:
            port = serial.serial_for_url(self.url, baudrate=self.settings.baudrate, timeout=0.1, write_timeout=5,
                                         exclusive=True)
        except (OSError, ValueError, serial.SerialException) as exc:
            raise PortError(f"cannot open the port: {exc}") from exc
        self._generation += 1
        generation = self._generation
        channel = AtChannel(port, lambda urc: self._events.put((generation, time.monotonic(), urc)), name=self.id,
                            resync_timeout=min(2.0, self.settings.command_timeout))
        channel.start()
        session = ModemSession(channel, port, self.settings)
        with self._session_lock:
            self._session = session
        return session

    def _reset_due(self, failures: int) -> bool:
        """Every ``reset_after``-th failure in a row (once each), if a command is set."""
        every = self.settings.reset_after
        return bool(self.settings.reset_command) and failures > 0 and failures % every == 0 \
            and self._reset_at != failures

    def _reset(self, session: ModemSession, failures: int) -> None:
        log.warning("%s: %d failures in a row; sending %s", self.id, failures, self.settings.reset_command)
        self._reset_at = failures
        session.reset(self.settings.reset_command)
        self.facts.resets += 1
        metrics.error(self.transport, self.id, Fault.RESET)
        self._drop_session()
        self._stop.wait(self.settings.reset_wait)
        raise _Restart("reset command sent")

    def _unlock(self, session: ModemSession) -> None:
        """READY goes on; a PIN we lack or a PUK blocks for good; a SIM that is absent or
        not ready yet (``+CPIN: NOT READY`` while booting) is tried again after a back-off."""
        self.facts.sim = state = session.sim_state()
        if state is SimState.PIN_REQUIRED and self.settings.pin:
            session.enter_pin(self.settings.pin)  # a refusal raises SimError: never sent twice
            self.facts.sim = state = self._sim_after_pin(session)
            if state is SimState.PIN_REQUIRED:  # an OK that meant no: treat it as a refusal
                self.facts.sim = SimState.WRONG_PIN
                raise SimError("SIM still asks for the PIN after taking it", SimState.WRONG_PIN)
            if state is not SimState.READY:
                raise ModemError(f"SIM took the PIN but is {state.value}")
        if state in (SimState.PIN_REQUIRED, SimState.PUK_REQUIRED):
            raise SimError(f"SIM is {state.value}", state)
        if state is not SimState.READY:
            raise ModemError(f"SIM is {state.value}")

    def _sim_after_pin(self, session: ModemSession) -> SimState:
        """Some SIMs answer ``+CPIN: SIM PIN`` for a moment after the PIN took."""
        deadline = time.monotonic() + self.settings.command_timeout
        state = session.sim_state()
        while state is not SimState.READY and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(0.1)
            state = session.sim_state()
        return state

    def _await_registration(self, session: ModemSession) -> None:
        deadline = time.monotonic() + self.settings.registration_timeout
        while not self._stop.is_set():
            self.facts.registration = session.registration()
            if self.facts.registration.registered:
                return
            if time.monotonic() >= deadline:
                raise RegistrationError(f"not registered after {self.settings.registration_timeout:g} s "
                                        f"({self.facts.registration.name.lower()})")
            self._stop.wait(self.settings.registration_poll)
        raise _Restart("stopping")

    def _serve(self, session: ModemSession) -> None:
        """Events of this channel and the keepalive, until something ends the session. A
        restart announced before READY was our own bring-up's (a reset), not news."""
        ready_at = time.monotonic()
        next_check = ready_at + self.settings.keepalive
        while not self._stop.is_set():
            try:
                generation, at, urc = self._events.get(timeout=max(0.0, min(next_check - time.monotonic(), 1.0)))
            except queue.Empty:
                generation = urc = None
            if urc is not None and generation == self._generation and not (urc.kind is UrcKind.BOOT and at < ready_at):
                self._handle(session, urc)
            if time.monotonic() >= next_check:
                self._keepalive(session)
                next_check = time.monotonic() + self.settings.keepalive
            self.inbox.expire()

    def _handle(self, session: ModemSession, urc: Urc) -> None:
        if urc.kind is UrcKind.LOST:
            raise PortError(urc.line)
        if urc.kind is UrcKind.BOOT:
            raise _Restart(f"modem restarted ({urc.line})")
        if urc.kind is UrcKind.SIGNAL:  # Huawei's ^RSSI: <rssi>, as +CSQ counts it
            digits = urc.line.split(":", 1)[1].strip()
            self.facts.signal_dbm = csq_dbm(int(digits)) if digits.isdigit() else self.facts.signal_dbm
        elif urc.kind is UrcKind.REGISTRATION:
            self._keepalive(session)  # check at once: a lost network makes the modem not ready
        elif urc.kind in (UrcKind.MESSAGE_STORED, UrcKind.MESSAGE, UrcKind.REPORT, UrcKind.REPORT_STORED):
            self.inbox.handle(session, urc)
        else:
            log.debug("%s: %s", self.id, urc.kind.value)

    def _keepalive(self, session: ModemSession) -> None:
        """The watchdog: a hung modem times out here and the cycle ends."""
        self.facts.signal_dbm = session.signal()
        metrics.signal(self.transport, self.id, self.facts.signal_dbm)
        self.facts.registration = session.registration()
        if not self.facts.registration.registered:
            self._set(ModemState.REGISTERING)
            self._await_registration(session)
            self._set(ModemState.READY)

    def _failed(self, exc: Exception, failures: int) -> None:
        self.facts.failures = failures
        self.facts.last_error = str(exc)
        metrics.error(self.transport, self.id, exc.fault if isinstance(exc, ModemError) else Fault.TROUBLE)
        if isinstance(exc, ModemError):
            log.warning("%s: %s (failure %d in a row)", self.id, exc, failures)
        else:
            log.exception("%s: unexpected failure %d in a row", self.id, failures)

    def _blocked(self, exc: SimError) -> None:
        """The SIM needs a human: close the port and stay down until restarted."""
        self.facts.sim = exc.state
        self.facts.last_error = str(exc)
        metrics.error(self.transport, self.id, Fault.SIM)
        log.error("%s: %s; not retrying (fix the SIM or the pin setting, then restart)", self.id, exc)
        self._drop_session()
        self._set(ModemState.SIM_BLOCKED)

    def _drop_session(self) -> None:
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            session.channel.close()

    def _step(self, state: ModemState) -> None:
        """Enter the next bring-up state, unless ``stop`` came meanwhile."""
        if self._stop.is_set():
            raise _Restart("stopping")
        self._set(state)

    def _set(self, state: ModemState) -> None:
        if self.facts.state is state:
            return
        self.facts.state = state
        metrics.ready(self.transport, self.id, state is ModemState.READY)
        self._on_change()
