"""One opened modem and what otpgw says to it: typed AT commands over an ``AtChannel``.

A session lives from one open of the port to its close; reopening makes a new one. Each
method is one step the modem's supervisor or a sender takes, and raises ``ModemError``
when the modem does not play along. The command set is TS 27.007 (general, SIM,
network) and TS 27.005 (SMS), nothing vendor-specific.
"""
from __future__ import annotations

import re
import time

import serial

from ...domain.textcodec import Encoding
from . import textmode
from .at import ESC, AtChannel
from .errors import CommandError, CommandTimeout, ModemError, ReplyLost, SimError
from .pdu import SubmitPdu
from .settings import AckMode, Mode, ModemSettings
from .state import Registration, SimState, csq_dbm

_CPIN = {"READY": SimState.READY, "SIM PIN": SimState.PIN_REQUIRED, "SIM PUK": SimState.PUK_REQUIRED}
_INT = re.compile(r"-?\d+")
_CMGS = re.compile(r"\+CMGS:\s*(\d+)")


class ModemSession:
    def __init__(self, channel: AtChannel, port: serial.SerialBase, settings: ModemSettings):
        self.channel = channel
        self.port = port
        self.settings = settings
        self.acks = False  # AT+CNMA after direct +CMT/+CDS (decided by configure)
        self._mem = ""

    @property
    def text_mode(self) -> bool:
        return self.settings.mode is Mode.TEXT

    def cmd(self, text: str, timeout: float | None = None) -> list[str]:
        return self.channel.command(text, timeout=timeout or self.settings.command_timeout)

    # -- bring-up --------------------------------------------------------------------

    def probe(self) -> None:
        """``AT`` until ``OK``: at the configured rate, then the common ones (autobauding
        modems lock on to the first ``AT`` they hear, so each rate gets two tries)."""
        self.channel.write_raw(ESC)  # leaves a prompt an earlier process left open
        wait = min(1.0, self.settings.command_timeout)
        fallbacks = self.settings.fallback_baudrates
        rates = (self.settings.baudrate,) + tuple(r for r in fallbacks if r != self.settings.baudrate)
        for rate in rates:
            self._set_rate(rate)
            for _ in range(2):
                try:
                    self.channel.command("AT", timeout=wait, resync=False)
                    return
                except (CommandTimeout, CommandError):
                    continue
        raise ModemError("no answer to AT at any baud rate")

    def _set_rate(self, rate: int) -> None:
        if self.port.baudrate != rate:
            try:
                self.port.baudrate = rate
            except (ValueError, serial.SerialException):
                pass  # a URL port (socket://) has no rate to change

    def basics(self) -> None:
        """Echo off (so replies are only replies) and numeric errors (so they classify)."""
        self.cmd("ATE0")
        self.cmd("AT+CMEE=1")

    def sim_state(self) -> SimState:
        try:
            lines = self.cmd("AT+CPIN?")
        except CommandError as exc:
            if exc.number == 10:
                return SimState.ABSENT
            raise
        answer = next((line.split(":", 1)[1].strip().upper() for line in lines if line.startswith("+CPIN:")), "")
        return _CPIN.get(answer, SimState.UNKNOWN)

    def enter_pin(self, pin: str) -> None:
        """Send the PIN once. A refusal is final: the caller never sends it again, since
        three wrong PINs lock the SIM."""
        try:
            self.cmd(f'AT+CPIN="{pin}"')
        except CommandError as exc:
            locked = exc.number == 12 or self._quiet_state() is SimState.PUK_REQUIRED
            state = SimState.PUK_REQUIRED if locked else SimState.WRONG_PIN
            raise SimError(f"SIM refused the PIN ({exc.code or 'ERROR'})", state) from exc

    def _quiet_state(self) -> SimState | None:
        try:
            return self.sim_state()
        except ModemError:
            return None

    def registration(self) -> Registration:
        """``+CREG``; an LTE modem may register for SMS on EPS only, so ``+CEREG`` too."""
        best = self._stat("AT+CREG?")
        if not best.registered:
            try:
                eps = self._stat("AT+CEREG?")
            except CommandError:
                return best
            best = eps if eps.registered else best
        return best

    def _stat(self, command: str) -> Registration:
        prefix = command[2:].rstrip("?") + ":"
        for line in self.cmd(command):
            if line.upper().startswith(prefix):
                values = [v.strip() for v in line.split(":", 1)[1].split(",")]
                return Registration.of(int(values[1] if len(values) > 1 else values[0]))
        return Registration.UNKNOWN

    def configure(self) -> None:
        """Message format, phase 2+ service, where new messages and reports go."""
        self.cmd(f"AT+CMGF={1 if self.text_mode else 0}")
        if self.text_mode:
            self.cmd('AT+CSCS="UCS2"')
        try:
            self.cmd("AT+CSMS=1")
            phase2 = True
        except CommandError:
            phase2 = False
        self._cnmi()
        ack = self.settings.report_ack
        self.acks = ack is AckMode.ON or (ack is AckMode.AUTO and phase2)

    def _cnmi(self) -> None:
        """The configured ``+CNMI``; a modem that refuses direct ``+CDS`` gets stored ones."""
        wanted = self.settings.cnmi_value
        values = wanted.split(",")
        fallbacks = [wanted] + ([",".join(values[:3] + ["2"] + values[4:])] if len(values) > 3 else [])
        for value in fallbacks:
            try:
                self.cmd(f"AT+CNMI={value}")
                return
            except CommandError:
                continue
        raise ModemError(f"modem refuses AT+CNMI={wanted}")

    def operator(self) -> str:
        for line in self.cmd("AT+COPS?"):
            quoted = re.search(r'"([^"]*)"', line)
            if quoted:
                return quoted.group(1)
        return ""

    def signal(self) -> int | None:
        for line in self.cmd("AT+CSQ"):
            if line.startswith("+CSQ:"):
                return csq_dbm(int(_INT.findall(line)[0]))
        return None

    def model(self) -> str:
        try:
            lines = self.cmd("AT+CGMM")
        except CommandError:
            return ""
        return lines[0][:40] if lines else ""

    # -- sending -------------------------------------------------------------------------

    def send_pdu(self, pdu: SubmitPdu) -> int:
        lines = self.channel.submit(f"AT+CMGS={pdu.length}", pdu.hex, prompt_timeout=self.settings.command_timeout,
                                    timeout=self.settings.send_timeout)
        return _mr(lines)

    def send_text(self, number: str, text: str, encoding: Encoding, validity_s: int, report: bool) -> int:
        self.cmd(f"AT+CSMP={textmode.csmp(validity_s, report, 0x08 if encoding is Encoding.UCS2 else 0x00)}")
        lines = self.channel.submit(f'AT+CMGS="{textmode.to_hex(number)}"', textmode.to_hex(text),
                                    prompt_timeout=self.settings.command_timeout, timeout=self.settings.send_timeout)
        return _mr(lines)

    # -- storage -------------------------------------------------------------------------

    def select(self, mem: str) -> None:
        if mem and mem != self._mem:
            self.cmd(f'AT+CPMS="{mem}"')
            self._mem = mem

    def read(self, mem: str, index: int) -> list[str]:
        """``+CMGR``'s lines: the header and the PDU (or the text, in text mode)."""
        self.select(mem)
        return self.cmd(f"AT+CMGR={index}")

    def delete(self, mem: str, index: int) -> None:
        self.select(mem)
        self.cmd(f"AT+CMGD={index}")

    def listing(self, mem: str) -> list[tuple[int, str, str]]:
        """Every stored message of ``mem``: (index, header, PDU). PDU mode only."""
        self.select(mem)
        lines = self.cmd("AT+CMGL=4", timeout=max(self.settings.command_timeout, 10.0))
        return [(int(_INT.findall(head)[0]), head, body) for head, body in zip(lines[::2], lines[1::2])
                if head.startswith("+CMGL:")]

    def ack(self) -> None:
        if self.acks:
            try:
                self.cmd("AT+CNMA")
            except CommandError:
                pass  # 340: the modem did not expect one after all

    def reset(self, command: str) -> None:
        """The configured reset command, written blindly: the modem may be past answering."""
        self.channel.write_raw(command.encode("ascii") + b"\r")
        time.sleep(0.05)


def _mr(lines: list[str]) -> int:
    for line in lines:
        found = _CMGS.match(line)
        if found:
            return int(found.group(1)) % 256
    raise ReplyLost("OK without +CMGS: the SMS may have left, its reference is unknown")
