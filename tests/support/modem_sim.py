"""A simulated GSM modem on a pseudo-terminal, written from scratch to behave like hardware.

The transport opens ``SimModem.path`` (a symlink to the pty's slave, like a
``/dev/serial/by-id`` link) exactly as it would open a real device. The modem:

- echoes every byte until ``ATE0``; answers ``OK``/``ERROR``/``+CMS ERROR: n``/``+CME
  ERROR: n`` as ``AT+CMEE`` says; asks for a PIN and locks (PUK) after three wrong ones;
  registers after a delay; keeps its own TP-MR counter that wraps at 255;
- gives the ``>`` prompt for ``AT+CMGS`` (with or without a space), reads the PDU (or
  text, in text mode) up to Ctrl-Z, cancels on ESC, answers ``+CMGS: <mr>`` after
  ``cmgs_delay`` seconds and records every submission in ``submitted``;
- delivers inbound SMS (stored + ``+CMTI``, or direct ``+CMT``) and status reports
  (direct two-line ``+CDS``, or stored + ``+CDSI``) as its ``+CNMI`` setting says, and
  expects ``AT+CNMA`` for direct ones once ``AT+CSMS=1`` is on;
- misbehaves on request: an error for the next send, no prompt, no ``+CMGS``, a URC
  inside a reply, a silent hang (healed by the reset command), a vanishing device that
  comes back on a new pty behind the same symlink.

Its PDUs (SMS-DELIVER, SMS-STATUS-REPORT) are built by the small encoders at the end of
this file, independent of otpgw's codec, so the tests are not circular.
"""
from __future__ import annotations

import heapq
import itertools
import os
import queue
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

CTRL_Z, ESC = 0x1A, 0x1B
STAT = {"REC UNREAD": 0, "REC READ": 1}


@dataclass
class Submitted:
    """One message the modem took: the PDU hex (PDU mode) or the number and text (text mode)."""

    mr: int
    pdu: str = ""
    length: int = 0
    number: str = ""
    text: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Stored:
    stat: int
    pdu: str
    length: int
    sender: str = ""
    text: str = ""
    report_line: str = ""  # a status report as text mode shows it (after "<stat>,")


class SimModem:
    """See the module docstring. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, directory: str | Path, *, name: str = "modem0", pin: str | None = None,
                 cmgs_delay: float = 0.0, prompt: bytes = b"> ", registration: int = 1,
                 registration_delay: float = 0.0, mr_start: int = 0, operator: str = "SimNet",
                 csq: int = 20, reset_command: str = "AT+CFUN=1,1", auto_report: float | None = None,
                 deaf_probes: int = 0, smsc: str = "+4917000000"):
        self.path = str(Path(directory) / name)
        self.pin, self.prompt, self.operator, self.csq = pin, prompt, operator, csq
        self.cmgs_delay, self.registration, self.registration_delay = cmgs_delay, registration, registration_delay
        self.reset_command, self.auto_report, self.smsc = reset_command.upper(), auto_report, smsc
        self.next_mr = mr_start
        self.deaf_probes = deaf_probes
        self.submitted: list[Submitted] = []
        self.commands: list[str] = []
        self.pin_entries: list[str] = []
        self.acks = self.resets = self.opens = 0
        self.storage: dict[str, dict[int, Stored]] = {"SM": {}, "ME": {}, "SR": {}}
        self._master = self._slave = -1
        self._wake_r, self._wake_w = os.pipe()
        self._calls: queue.Queue = queue.Queue()
        self._timers: list = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sim-{name}", daemon=True)
        self._faults: dict[str, object] = {}
        self.hung = False
        self._power_on()

    # -- life ------------------------------------------------------------------

    def start(self) -> "SimModem":
        self._open_pty()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._close_pty()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        if os.path.lexists(self.path):
            os.unlink(self.path)

    def __enter__(self) -> "SimModem":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _power_on(self) -> None:
        """State after power-up or a reset: echo on, defaults, the SIM locked again."""
        self.echo, self.cmee, self.cmgf, self.csms, self.cscs = True, 0, 0, 0, "GSM"
        self.cnmi = (0, 0, 0, 0, 0)
        self.mem = "SM"
        self.sim = "SIM PIN" if self.pin else "READY"
        self.pin_tries = 3
        self._registered_at = time.monotonic() + self.registration_delay
        self._line, self._collect, self._collecting = b"", b"", None
        self._awaiting_ack = 0
        self._probes_ignored = 0

    # -- test controls (any thread) ----------------------------------------------

    def fail_next_send(self, code: int, family: str = "CMS") -> None:
        """The next ``AT+CMGS`` takes the PDU, then answers ``+<family> ERROR: <code>``."""
        self._faults["send_error"] = (family, code)

    def swallow_next_send(self) -> None:
        """The next ``AT+CMGS`` takes the PDU and never answers."""
        self._faults["swallow"] = True

    def withhold_next_prompt(self) -> None:
        """The next ``AT+CMGS`` gets no ``>`` prompt."""
        self._faults["no_prompt"] = True

    def inject_into_next_reply(self, text: str) -> None:
        """Raw text put after the first line of the next reply (before OK if it has none)."""
        self._faults["mid_reply"] = text

    def inject_during_next_send(self, text: str) -> None:
        """Raw text sent after the next PDU is taken and before its ``+CMGS``."""
        self._faults["mid_send"] = text

    def inject(self, text: str) -> None:
        """Unsolicited raw text, now (``"\\r\\nRING\\r\\n"``)."""
        self._call(lambda: self._write(text.encode()))

    def hang(self) -> None:
        """Stop answering anything but the reset command."""
        self._call(self._hang)

    def set_registration(self, stat: int) -> None:
        self.registration = stat

    def vanish(self) -> None:
        """Unplug: the pty closes under the transport and the symlink disappears."""
        self._call(self._vanish)

    def come_back(self) -> None:
        """Plug back in, powered up afresh, on a new pty behind the same symlink."""
        self._call(self._come_back)

    def status_report(self, mr: int, recipient: str, status: int = 0, *, submitted: datetime | None = None,
                      mid_reply: bool = False) -> None:
        """A status report for TP-MR ``mr``, routed as ``+CNMI``'s ``<ds>`` says."""
        self._call(lambda: self._report(mr, recipient, status, submitted, mid_reply))

    def receive(self, sender: str, text: str, *, parts: int = 1, ucs2: bool = False, reference: int = 7,
                alphanumeric: bool = False, order: list[int] | None = None) -> None:
        """An SMS from ``sender``, split into ``parts`` (delivered in ``order`` of 1-based seq)."""
        self._call(lambda: self._receive(sender, text, parts, ucs2, reference, alphanumeric, order))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def _call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the simulator's thread (it owns the pty) and wait for it."""
        if threading.current_thread() is self._thread:
            fn()
            return
        done = threading.Event()
        self._calls.put((fn, done))
        os.write(self._wake_w, b"x")
        done.wait(5)

    # -- the pty -------------------------------------------------------------------

    def _open_pty(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo or CR translation by the line discipline
        os.set_blocking(self._master, False)
        link = self.path + ".new"
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(self._slave), link)
        os.replace(link, self.path)
        self.opens += 1

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def _vanish(self) -> None:
        self._close_pty()
        self._timers.clear()
        if os.path.lexists(self.path):
            os.unlink(self.path)

    def _come_back(self) -> None:
        self._power_on()
        self.hung = False
        self._open_pty()

    def _hang(self) -> None:
        self.hung = True
        self._timers.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            timeout = max(0.0, self._timers[0][0] - time.monotonic()) if self._timers else 0.5
            fds = [self._wake_r] + ([self._master] if self._master >= 0 else [])
            ready, _, _ = select.select(fds, [], [], min(timeout, 0.5))
            if self._wake_r in ready:
                os.read(self._wake_r, 1024)
            self._run_calls()
            if self._master >= 0 and self._master in ready:
                self._read()
            while self._timers and self._timers[0][0] <= time.monotonic():
                heapq.heappop(self._timers)[2]()

    def _run_calls(self) -> None:
        while True:
            try:
                fn, done = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            finally:
                done.set()

    def _read(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: no process has the slave open
            time.sleep(0.01)
            return
        for byte in data:
            self._byte(byte)

    def _write(self, data: bytes) -> None:
        if self._master < 0:
            return
        try:
            os.write(self._master, data)
        except OSError:
            pass  # buffer full or gone: a real UART drops it too

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), fn))

    # -- input -----------------------------------------------------------------------

    def _byte(self, byte: int) -> None:
        if self.echo and not self.hung:
            self._write(bytes((byte,)))
        if self._collecting is not None:
            self._collect_byte(byte)
        elif byte == ord("\r"):
            line, self._line = self._line.decode("latin-1").strip(), b""
            if line:
                self._command(line)
        elif byte == ESC:
            self._line = b""
        elif byte != ord("\n"):
            self._line += bytes((byte,))

    def _collect_byte(self, byte: int) -> None:
        if byte == ESC:
            self._collecting, self._collect = None, b""
            self._final()  # cancelled: OK, nothing sent
        elif byte == CTRL_Z:
            data, self._collect = self._collect.decode("latin-1"), b""
            header, self._collecting = self._collecting, None
            self._submitted(header, data.strip())
        elif byte not in (ord("\r"), ord("\n")):
            self._collect += bytes((byte,))

    def _command(self, line: str) -> None:
        self.commands.append(line)
        upper = line.upper()
        if self.hung:
            if upper == self.reset_command:
                self._reboot()
            return
        if self._probes_ignored < self.deaf_probes:
            self._probes_ignored += 1
            return
        if not upper.startswith("AT"):
            self._error()
            return
        self._dispatch(line[2:], upper[2:])

    # -- commands ----------------------------------------------------------------------

    def _dispatch(self, raw: str, cmd: str) -> None:
        name, _, arg = cmd.partition("=")
        query = name.endswith("?")
        name = name.rstrip("?")
        raw_arg = raw.partition("=")[2]
        handler = _HANDLERS.get(name)
        if handler is None:
            self._error()
            return
        handler(self, raw_arg if name in _CASED else arg, query)

    def _reply(self, *lines: str) -> None:
        out = []
        mid = self._faults.pop("mid_reply", None)
        for index, line in enumerate(lines):
            out.append(f"\r\n{line}\r\n")
            if index == 0 and mid:
                out.append(mid)
                mid = None
        if mid:
            out.append(mid)
        out.append("\r\nOK\r\n")
        self._write("".join(out).encode())

    def _final(self) -> None:
        self._reply()

    def _error(self, code: int | None = None, family: str = "CME") -> None:
        if self.cmee and code is not None:
            self._write(f"\r\n+{family} ERROR: {code}\r\n".encode())
        else:
            self._write(b"\r\nERROR\r\n")

    def _registration_stat(self) -> int:
        if self.sim != "READY":
            return 0
        return self.registration if time.monotonic() >= self._registered_at else 2

    def _reboot(self) -> None:
        self.resets += 1
        self.hung = False
        self._power_on()
        self._later(0.05, lambda: self._write(b"\r\nRDY\r\n"))
        if not self.pin:
            self._later(0.06, lambda: self._write(b"\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"))

    def _h_basic(self, arg: str, query: bool) -> None:
        self._final()

    def _h_cpin(self, arg: str, query: bool) -> None:
        if query or not arg:
            self._reply(f"+CPIN: {self.sim}")
            return
        self.pin_entries.append(arg.strip('"'))
        if self.sim == "SIM PUK":
            self._error(12)
        elif self.sim == "READY":
            self._error(3)
        elif arg.strip('"') == self.pin:
            self.sim = "READY"
            self._registered_at = time.monotonic() + self.registration_delay
            self._final()
            self._later(0.01, lambda: self._write(b"\r\n+CPIN: READY\r\n"))
        else:
            self.pin_tries -= 1
            if self.pin_tries == 0:
                self.sim = "SIM PUK"
            self._error(16)

    def _h_creg(self, arg: str, query: bool, name: str = "+CREG") -> None:
        if query:
            self._reply(f"{name}: 0,{self._registration_stat()}")
        else:
            self._final()

    def _h_cereg(self, arg: str, query: bool) -> None:
        self._h_creg(arg, query, "+CEREG")

    def _h_cops(self, arg: str, query: bool) -> None:
        if self._registration_stat() in (1, 5):
            self._reply(f'+COPS: 0,0,"{self.operator}",7')
        else:
            self._reply("+COPS: 0")

    def _h_csq(self, arg: str, query: bool) -> None:
        self._reply(f"+CSQ: {self.csq},99")

    def _h_ate(self, arg: str, query: bool) -> None:
        pass  # handled by name (ATE0 / ATE1)

    def _h_cmee(self, arg: str, query: bool) -> None:
        self.cmee = int(arg or 0)
        self._final()

    def _h_cmgf(self, arg: str, query: bool) -> None:
        if query:
            self._reply(f"+CMGF: {self.cmgf}")
        else:
            self.cmgf = int(arg)
            self._final()

    def _h_csms(self, arg: str, query: bool) -> None:
        if not query:
            self.csms = int(arg)
        self._reply(f"+CSMS: {self.csms},1,1,1" if query else "+CSMS: 1,1,1")

    def _h_cnmi(self, arg: str, query: bool) -> None:
        if query:
            self._reply("+CNMI: " + ",".join(map(str, self.cnmi)))
            return
        values = [int(v) if v else 0 for v in arg.split(",")] + [0] * 5
        self.cnmi = tuple(values[:5])
        self._final()

    def _h_cpms(self, arg: str, query: bool) -> None:
        mem = arg.split(",")[0].strip('"') if arg else self.mem
        if mem not in self.storage:
            self._error(302, "CMS")
            return
        self.mem = mem
        used = len(self.storage[mem])
        self._reply(f"+CPMS: {used},30,{used},30,{used},30")

    def _h_cscs(self, arg: str, query: bool) -> None:
        self.cscs = arg.strip('"') or self.cscs
        self._final()

    def _h_csca(self, arg: str, query: bool) -> None:
        self._reply(f'+CSCA: "{self.smsc}",145') if query else self._final()

    def _h_cnma(self, arg: str, query: bool) -> None:
        if self._awaiting_ack <= 0:
            self._error(340, "CMS")
            return
        self._awaiting_ack -= 1
        self.acks += 1
        self._final()

    def _h_cfun(self, arg: str, query: bool) -> None:
        if query:
            self._reply("+CFUN: 1")
        elif arg.replace(" ", "") == "1,1":
            self._final()
            self._reboot()
        else:
            self._final()

    def _h_cmgr(self, arg: str, query: bool) -> None:
        item = self.storage[self.mem].get(int(arg or -1))
        if item is None:
            self._error(321, "CMS")
            return
        if self.cmgf == 1 and item.report_line:
            self._reply(f'+CMGR: "REC UNREAD",{item.report_line}')
        elif self.cmgf == 1:
            self._reply(f'+CMGR: "REC UNREAD","{self._te(item.sender)}",,"24/01/02,03:04:05+04"', self._te(item.text))
        else:
            self._reply(f"+CMGR: {item.stat},,{item.length}", item.pdu)
        item.stat = 1

    def _h_cmgd(self, arg: str, query: bool) -> None:
        self.storage[self.mem].pop(int(arg.split(",")[0]), None)
        self._final()

    def _h_cmgl(self, arg: str, query: bool) -> None:
        lines = []
        for index, item in sorted(self.storage[self.mem].items()):
            lines += [f"+CMGL: {index},{item.stat},,{item.length}", item.pdu]
        self._reply(*lines)

    def _h_csmp(self, arg: str, query: bool) -> None:
        self.csmp = arg
        self._final()

    def _h_cgmm(self, arg: str, query: bool) -> None:
        self._reply("SIM800-SIM")

    def _h_cmgs(self, arg: str, query: bool) -> None:
        if self.sim != "READY":
            self._error(311, "CMS")
            return
        if self._faults.pop("no_prompt", None):
            return
        self._collecting = arg
        self._write(b"\r\n" + self.prompt)

    # -- sending -----------------------------------------------------------------------

    def _submitted(self, header: str, data: str) -> None:
        mr = self.next_mr
        self.next_mr = (mr + 1) % 256
        if self.cmgf == 1:
            record = Submitted(mr, number=self._from_te(header.split(",")[0].strip('"')), text=self._from_te(data))
        else:
            if not _is_hex(data) or _tpdu_length(data) != int(header):
                self._error(304, "CMS")
                return
            record = Submitted(mr, pdu=data.upper(), length=int(header))
        self.submitted.append(record)
        mid = self._faults.pop("mid_send", None)
        if mid:
            self._write(mid.encode())
        if self._faults.pop("swallow", None):
            return
        failure = self._faults.pop("send_error", None)
        if failure:
            self._later(self.cmgs_delay, lambda: self._error(failure[1], failure[0]))
            return
        self._later(self.cmgs_delay, lambda: self._reply(f"+CMGS: {mr}"))
        if self.auto_report is not None and record.pdu and _wants_report(record.pdu):
            recipient = _destination(record.pdu)
            self._later(self.cmgs_delay + self.auto_report, lambda: self._report(mr, recipient, 0, None, False))

    def _te(self, text: str) -> str:
        """A string in the TE character set (UCS2 hex when ``AT+CSCS="UCS2"``)."""
        return text.encode("utf-16-be").hex().upper() if self.cscs == "UCS2" else text

    def _from_te(self, text: str) -> str:
        if self.cscs == "UCS2" and _is_hex(text) and len(text) % 4 == 0:
            return bytes.fromhex(text).decode("utf-16-be")
        return text

    # -- reports and inbound ------------------------------------------------------------

    def _report(self, mr: int, recipient: str, status: int, submitted: datetime | None, mid_reply: bool) -> None:
        submitted = submitted or datetime.now(timezone.utc)
        ds = self.cnmi[3]
        if self.cmgf == 1:
            stamp = submitted.strftime("%y/%m/%d,%H:%M:%S+00")
            fields = f'6,{mr},"{self._te(recipient)}",145,"{stamp}","{stamp}",{status}'
            if ds == 2:
                index = self._store("SR", Stored(0, "", 0, report_line=fields))
                self._unsolicited(f'\r\n+CDSI: "SR",{index}\r\n', mid_reply)
            else:
                self._unsolicited(f"\r\n+CDS: {fields}\r\n", mid_reply)
                self._awaiting_ack += 1 if self.csms else 0
            return
        pdu, length = status_report_pdu(mr, recipient, status, submitted, self.smsc)
        if ds == 2:
            index = self._store("SR", Stored(0, pdu, length))
            self._unsolicited(f'\r\n+CDSI: "SR",{index}\r\n', mid_reply)
        elif ds == 1:
            self._awaiting_ack += 1 if self.csms else 0
            self._unsolicited(f"\r\n+CDS: {length}\r\n{pdu}\r\n", mid_reply)

    def _receive(self, sender: str, text: str, parts: int, ucs2: bool, reference: int, alphanumeric: bool,
                 order: list[int] | None) -> None:
        pdus = deliver_pdus(sender, text, parts=parts, ucs2=ucs2, reference=reference, alphanumeric=alphanumeric,
                            smsc=self.smsc)
        for seq in order or range(1, len(pdus) + 1):
            pdu, length = pdus[seq - 1]
            if self.cnmi[1] == 2:
                self._awaiting_ack += 1 if self.csms else 0
                self._unsolicited(f"\r\n+CMT: ,{length}\r\n{pdu}\r\n", False)
            else:
                index = self._store("SM", Stored(0, pdu, length, sender, text))
                if self.cnmi[1] == 1:
                    self._unsolicited(f'\r\n+CMTI: "SM",{index}\r\n', False)

    def _store(self, mem: str, item: Stored) -> int:
        index = next(i for i in itertools.count(0) if i not in self.storage[mem])
        self.storage[mem][index] = item
        return index

    def _unsolicited(self, text: str, mid_reply: bool) -> None:
        if mid_reply:
            self._faults["mid_reply"] = text
        elif not self.hung:
            self._write(text.encode())


_CASED = {"+CPIN", "+CMGS", "+CSCS", "+CPMS"}
_HANDLERS: dict[str, Callable] = {
    "": SimModem._h_basic, "E0": lambda s, a, q: (setattr(s, "echo", False), s._final()),
    "E1": lambda s, a, q: (setattr(s, "echo", True), s._final()), "Z": SimModem._h_basic,
    "+CPIN": SimModem._h_cpin, "+CREG": SimModem._h_creg, "+CEREG": SimModem._h_cereg,
    "+COPS": SimModem._h_cops, "+CSQ": SimModem._h_csq, "+CMEE": SimModem._h_cmee, "+CMGF": SimModem._h_cmgf,
    "+CSMS": SimModem._h_csms, "+CNMI": SimModem._h_cnmi, "+CPMS": SimModem._h_cpms, "+CSCS": SimModem._h_cscs,
    "+CSCA": SimModem._h_csca, "+CNMA": SimModem._h_cnma, "+CFUN": SimModem._h_cfun, "+CMGR": SimModem._h_cmgr,
    "+CMGD": SimModem._h_cmgd, "+CMGL": SimModem._h_cmgl, "+CSMP": SimModem._h_csmp, "+CGMM": SimModem._h_cgmm,
    "+CMGS": SimModem._h_cmgs,
}


# -- the simulator's own small PDU encoders (independent of otpgw's codec) ------------------

_GSM_SAME_AS_ASCII = set(" !\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _septets(text: str) -> list[int]:
    """The simulator knows only the GSM-7 characters that sit where ASCII puts them, and @."""
    out = []
    for char in text:
        if char == "@":
            out.append(0)
        elif char in _GSM_SAME_AS_ASCII:
            out.append(ord(char))
        else:
            raise ValueError(f"the simulator cannot send {char!r} in GSM-7; use ucs2=True")
    return out


def _pack(septets: list[int], fill: int = 0) -> bytes:
    out, acc, bits = bytearray(), 0, fill
    for septet in septets:
        acc |= septet << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def _bcd(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def _address(number: str, *, alphanumeric: bool = False) -> bytes:
    if alphanumeric:
        septets = _septets(number)
        packed = _pack(septets)
        return bytes(((len(septets) * 7 + 3) // 4, 0xD0)) + packed
    if number.startswith("+"):
        return bytes((len(number) - 1, 0x91)) + _bcd(number[1:])
    return bytes((len(number), 0x81)) + _bcd(number)


def _smsc(number: str) -> bytes:
    body = bytes((0x91,)) + _bcd(number.lstrip("+"))
    return bytes((len(body),)) + body


def _stamp(moment: datetime) -> bytes:
    moment = moment.astimezone(timezone(timedelta(hours=1)))
    digits = moment.strftime("%y%m%d%H%M%S") + "04"  # +01:00 is four quarter hours
    return _bcd(digits)


def status_report_pdu(mr: int, recipient: str, status: int, submitted: datetime, smsc: str) -> tuple[str, int]:
    """SMS-STATUS-REPORT (TS 23.040 §9.2.2.3): MTI=10, TP-MMS set, no parameter indicator."""
    tpdu = bytes((0x06, mr)) + _address(recipient) + _stamp(submitted) + _stamp(submitted + timedelta(seconds=3)) \
        + bytes((status,))
    return (_smsc(smsc) + tpdu).hex().upper(), len(tpdu)


def deliver_pdus(sender: str, text: str, *, parts: int = 1, ucs2: bool = False, reference: int = 7,
                 alphanumeric: bool = False, smsc: str = "+4917000000") -> list[tuple[str, int]]:
    """SMS-DELIVER PDUs of ``text`` cut into ``parts`` equal pieces (8-bit concatenation)."""
    size = -(-len(text) // parts)
    pieces = [text[i:i + size] for i in range(0, len(text), size)] if parts > 1 else [text]
    out = []
    for seq, piece in enumerate(pieces, start=1):
        udh = bytes((5, 0, 3, reference, len(pieces), seq)) if len(pieces) > 1 else b""
        if ucs2:
            body = piece.encode("utf-16-be")
            udl, ud = len(udh) + len(body), udh + body
        else:
            fill = (7 - len(udh) * 8 % 7) % 7 if udh else 0
            septets = _septets(piece)
            udl = (len(udh) * 8 + fill) // 7 + len(septets)
            ud = udh + _pack(septets, fill)
        first = 0x04 | (0x40 if udh else 0)
        tpdu = bytes((first,)) + _address(sender, alphanumeric=alphanumeric) + bytes((0, 0x08 if ucs2 else 0)) \
            + _stamp(datetime.now(timezone.utc)) + bytes((udl,)) + ud
        out.append(((_smsc(smsc) + tpdu).hex().upper(), len(tpdu)))
    return out


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdefABCDEF" for c in text) and len(text) % 2 == 0


def _tpdu_length(pdu: str) -> int:
    return len(pdu) // 2 - 1 - int(pdu[:2], 16)


def _wants_report(pdu: str) -> bool:
    first = int(pdu[2 + 2 * int(pdu[:2], 16):][:2], 16)
    return bool(first & 0x20)


def _destination(pdu: str) -> str:
    tpdu = bytes.fromhex(pdu)[1 + int(pdu[:2], 16):]
    count, toa = tpdu[2], tpdu[3]
    digits = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in tpdu[4:4 + (count + 1) // 2])[:count]
    return ("+" if toa == 0x91 else "") + digits
