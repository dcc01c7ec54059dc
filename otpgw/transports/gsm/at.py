"""The AT line protocol on one port: one reader thread, one command at a time.

A modem talks when it likes. A ``+CMTI`` (new SMS), a ``+CDS`` (status report) or a
``RING`` can arrive between two commands or in the middle of a reply, so one reader
thread owns the port's input: lines that answer the waiting command go to it, unsolicited
result codes (URCs) go to ``on_urc`` with the kind already known. Who calls what:

- ``command`` sends one command and returns its information lines once ``OK`` came, or
  raises ``CommandError`` (``ERROR``, ``+CMS ERROR``, ``+CME ERROR``), ``CommandTimeout``
  or ``PortError``. Callers on several threads are served one at a time.
- ``submit`` is ``AT+CMGS``: it waits for the ``>`` prompt (with or without a trailing
  space, and with no line end, so the reader looks for it in the raw input), writes the
  payload and Ctrl-Z, then waits for the answer. No prompt: ESC cancels and
  ``PromptMissing`` is raised. No answer after the payload: ``ReplyLost``, because the
  SMS may have left.
- After a timeout the channel resynchronises (ESC, then ``AT`` until ``OK``) before the
  error is raised, so a late reply is not taken for the next command's. A channel that
  stays silent is marked lost: every later call raises ``PortError`` and ``on_urc``
  gets a ``LOST`` event, which tells the modem to reopen the port.
"""
from __future__ import annotations

import enum
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Callable

import serial

from .errors import CommandError, CommandTimeout, Family, ModemError, PortError, PromptMissing, ReplyLost

log = logging.getLogger("otpgw.transports.gsm")

CTRL_Z, ESC = b"\x1a", b"\x1b"


class UrcKind(enum.Enum):
    """What an unsolicited line announces."""

    MESSAGE_STORED = "+CMTI"  # an SMS was stored: read it with +CMGR
    MESSAGE = "+CMT"  # an SMS routed directly, PDU on the next line
    REPORT = "+CDS"  # a status report routed directly (PDU mode: on the next line)
    REPORT_STORED = "+CDSI"  # a status report was stored
    REGISTRATION = "+CREG"
    RING = "RING"
    SIGNAL = "^RSSI"
    BOOT = "boot"  # the modem restarted: settings such as ATE0 and +CNMI are gone
    NOTICE = "notice"  # news we log only (SMS Ready, +CPIN: READY, ^BOOT...)
    LOST = "lost"  # made by the channel: the port failed or stopped answering


@dataclass(frozen=True)
class Urc:
    """One unsolicited result code; ``body`` is the second line of a two-line code."""

    kind: UrcKind
    line: str
    body: str = ""


URC_PREFIXES: tuple[tuple[str, UrcKind], ...] = (
    ("+CMTI:", UrcKind.MESSAGE_STORED), ("+CMT:", UrcKind.MESSAGE), ("+CDSI:", UrcKind.REPORT_STORED),
    ("+CDS:", UrcKind.REPORT), ("+CREG:", UrcKind.REGISTRATION), ("+CGREG:", UrcKind.REGISTRATION),
    ("+CEREG:", UrcKind.REGISTRATION), ("RING", UrcKind.RING), ("^RSSI:", UrcKind.SIGNAL),
    ("RDY", UrcKind.BOOT), ("^SYSSTART", UrcKind.BOOT), ("+CFUN:", UrcKind.BOOT),
    ("^BOOT:", UrcKind.NOTICE), ("+CPIN:", UrcKind.NOTICE), ("SMS READY", UrcKind.NOTICE),
    ("CALL READY", UrcKind.NOTICE), ("+QIND:", UrcKind.NOTICE), ("^MODE:", UrcKind.NOTICE),
    ("^SRVST:", UrcKind.NOTICE), ("^SIMST:", UrcKind.NOTICE), ("+CIEV:", UrcKind.NOTICE),
    ("+CUSD:", UrcKind.NOTICE), ("^HCSQ:", UrcKind.NOTICE), ("+CLIP:", UrcKind.NOTICE),
    ("+CRING:", UrcKind.RING), ("+PBREADY", UrcKind.NOTICE), ("^STIN:", UrcKind.NOTICE),
)
_ERROR_FINALS = ("ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "COMMAND NOT SUPPORT",
                 "TOO MANY PARAMETERS")
_CODED_ERROR = re.compile(r"\+(CMS|CME) ERROR:\s*(.*)")
_NAME = re.compile(r"AT([+^][A-Z]+)", re.IGNORECASE)


def urc_kind(line: str) -> UrcKind | None:
    upper = line.upper()
    return next((kind for prefix, kind in URC_PREFIXES if upper.startswith(prefix)), None)


def _two_line(kind: UrcKind, line: str) -> bool:
    """``+CMT`` always has a second line; ``+CDS`` only in PDU mode (``+CDS: <length>``)."""
    if kind is UrcKind.MESSAGE:
        return True
    return kind is UrcKind.REPORT and line.split(":", 1)[1].strip().isdigit()


def _final_error(line: str) -> tuple[Family, int | None, str] | None:
    """The error a final result line reports; None if the line is not an error."""
    coded = _CODED_ERROR.fullmatch(line)
    if coded:
        value = coded.group(2).strip()
        number = int(value) if value.isdigit() else None
        return Family(coded.group(1)), number, "" if number is not None else value
    if line.upper() in _ERROR_FINALS:
        return Family.PLAIN, None, ""
    return None


@dataclass
class _Pending:
    """The command waiting for its reply (guarded by the channel's condition)."""

    text: str
    payload: str = ""
    wants_prompt: bool = False
    prompted: bool = False
    done: bool = False
    lines: list[str] = field(default_factory=list)
    error: ModemError | None = None
    prefix: str = ""  # "+CREG:" for AT+CREG?: lines with it answer us, even if they look like URCs

    def __post_init__(self) -> None:
        match = _NAME.match(self.text)
        self.prefix = match.group(1).upper() + ":" if match else ""

    def is_echo(self, line: str) -> bool:
        return line.upper() == self.text.upper() or bool(self.payload) and line.rstrip("\x1a") == self.payload


class AtChannel:
    """An open port speaking AT; see the module docstring for the rules."""

    def __init__(self, port: serial.SerialBase, on_urc: Callable[[Urc], None], *, name: str = "modem",
                 resync_timeout: float = 2.0):
        self._port = port
        self._resync_timeout = resync_timeout
        self._on_urc = on_urc
        self.name = name
        self._command_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending: _Pending | None = None
        self._lost: ModemError | None = None
        self._closing = threading.Event()
        self._buffer = b""
        self._urc_head: tuple[UrcKind, str] | None = None
        self._reader = threading.Thread(target=self._read_loop, name=f"otpgw-{name}-reader", daemon=True)

    def start(self) -> None:
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self._lost is None and not self._closing.is_set()

    # -- commands (any thread, one at a time) --------------------------------------

    def command(self, text: str, *, timeout: float, resync: bool = True) -> list[str]:
        """Send ``text`` and return its information lines (echo and URCs removed)."""
        with self._command_lock:
            return self._run(text, timeout, resync)

    def submit(self, text: str, payload: str, *, prompt_timeout: float, timeout: float) -> list[str]:
        """``AT+CMGS``-style: command, ``>`` prompt, payload and Ctrl-Z, reply."""
        with self._command_lock:
            pending = self._begin(text, payload=payload, wants_prompt=True)
            self._write(text.encode("ascii") + b"\r")
            if not self._wait(lambda: pending.prompted or pending.done, prompt_timeout):
                self._abandon(pending)
                self._resync()  # its ESC also leaves a prompt that comes late
                raise PromptMissing(f"no '>' prompt after {text.split('=')[0]}")
            if pending.done:
                return self._result(pending)
            self._write(payload.encode("ascii") + CTRL_Z)
            try:
                return self._finish(pending, timeout, resync=True)
            except (CommandTimeout, PortError) as exc:  # the SMS may have left all the same
                raise ReplyLost(f"no answer after the PDU was submitted ({exc})") from exc

    def write_raw(self, data: bytes) -> None:
        """Bytes with no reply expected (a reset command before the port is closed)."""
        with self._command_lock:
            self._write(data)

    def close(self) -> None:
        """Stop the reader, close the port, fail a waiting command. Idempotent."""
        self._closing.set()
        cancel = getattr(self._port, "cancel_read", None)
        if cancel is not None and self._port.is_open:
            try:
                cancel()
            except (OSError, serial.SerialException):
                pass
        if self._reader.is_alive() and self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        try:
            self._port.close()
        except (OSError, serial.SerialException):
            pass
        self._fail_pending(PortError("port closed"))

    def _run(self, text: str, timeout: float, resync: bool) -> list[str]:
        pending = self._begin(text)
        self._write(text.encode("ascii") + b"\r")
        return self._finish(pending, timeout, resync)

    def _begin(self, text: str, **kwargs) -> _Pending:
        if self._lost is not None:
            raise PortError(f"channel lost: {self._lost}")
        with self._cond:
            self._pending = _Pending(text, **kwargs)
            return self._pending

    def _finish(self, pending: _Pending, timeout: float, resync: bool) -> list[str]:
        if not self._wait(lambda: pending.done, timeout):
            self._abandon(pending)
            if resync:
                self._resync()
            raise CommandTimeout(f"no answer to {pending.text.split('=')[0]} in {timeout:g} s")
        return self._result(pending)

    def _result(self, pending: _Pending) -> list[str]:
        if pending.error is not None:
            raise pending.error
        return pending.lines

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def _abandon(self, pending: _Pending) -> None:
        with self._cond:
            if self._pending is pending:
                self._pending = None

    def _resync(self) -> None:
        """ESC (leaves a stuck prompt), then ``AT`` until ``OK``; lose the channel if mute."""
        try:
            self._write(ESC)
            self._run("AT", self._resync_timeout, resync=False)
        except CommandError:
            return  # it answered: in sync, if grumpy
        except ModemError as exc:
            self._lose(f"no answer after a timeout ({exc})")

    def _write(self, data: bytes) -> None:
        if self._lost is not None:
            raise PortError(f"channel lost: {self._lost}")
        try:
            self._port.write(data)
        except (OSError, serial.SerialException) as exc:
            self._lose(f"write failed: {exc}")
            raise PortError(f"write failed: {exc}") from exc

    # -- the reader thread ---------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while not self._closing.is_set():
                chunk = self._port.read(max(1, self._port.in_waiting))
                if chunk:
                    self._feed(chunk)
        except (OSError, serial.SerialException, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial's read on a port closed under it
            if not self._closing.is_set():
                self._lose(f"read failed: {exc}")

    def _feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while True:
            if self._take_prompt():
                continue
            cut = min((i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                return
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1:]
            line = raw.decode("ascii", "replace").strip()
            if line:
                self._line(line)

    def _take_prompt(self) -> bool:
        """Consume ``>`` or ``> `` at the start of the input if a command awaits it."""
        pending = self._pending
        if pending is None or not pending.wants_prompt or pending.prompted:
            return False
        stripped = self._buffer.lstrip(b"\r\n")
        if not stripped.startswith(b">"):
            return False
        self._buffer = stripped[2:] if stripped[1:2] == b" " else stripped[1:]
        with self._cond:
            pending.prompted = True
            self._cond.notify_all()
        return True

    def _line(self, line: str) -> None:
        if self._urc_head is not None:
            (kind, head), self._urc_head = self._urc_head, None
            self._emit(Urc(kind, head, line))
            return
        pending = self._pending
        if pending is not None and pending.is_echo(line):
            return
        if pending is not None and pending.prefix and line.upper().startswith(pending.prefix):
            pending.lines.append(line)
            return
        kind = urc_kind(line)
        if kind is not None:
            if _two_line(kind, line):
                self._urc_head = (kind, line)
            else:
                self._emit(Urc(kind, line))
        elif pending is None:
            log.debug("%s: stray line %r", self.name, line[:40])
        else:
            self._reply_line(pending, line)

    def _reply_line(self, pending: _Pending, line: str) -> None:
        failure = _final_error(line)
        if failure is None and line.upper() != "OK":
            pending.lines.append(line)
            return
        with self._cond:
            if failure is not None:
                pending.error = CommandError(pending.text, *failure)
            pending.done = True
            if self._pending is pending:
                self._pending = None
            self._cond.notify_all()

    def _emit(self, urc: Urc) -> None:
        try:
            self._on_urc(urc)
        except Exception:  # a bad handler must not kill the port's only reader
            log.exception("%s: URC handler failed", self.name)

    def _lose(self, reason: str) -> None:
        if self._lost is not None or self._closing.is_set():
            return
        self._lost = PortError(reason)
        log.warning("%s: channel lost: %s", self.name, reason)
        self._fail_pending(PortError(reason))
        self._emit(Urc(UrcKind.LOST, reason))

    def _fail_pending(self, error: ModemError) -> None:
        with self._cond:
            pending, self._pending = self._pending, None
            if pending is not None and not pending.done:
                pending.error, pending.done = error, True
            self._cond.notify_all()
