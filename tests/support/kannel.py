"""A real Kannel for tests: bearerbox, smsbox and the fake SMSC client ``fakesmsc``.

Debian packages them as ``kannel`` (bearerbox, smsbox) and ``kannel-extras``
(``/usr/lib/kannel/test/fakesmsc``). When they are missing and we are root with
apt-get (CI), ``find_kannel`` installs them::

    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kannel kannel-extras

otherwise the test fails loudly: these tests never skip.

``KannelGateway`` writes a ``kannel.conf`` into a temporary directory with every port a
free loopback port, and runs::

    bearerbox -v 1 kannel.conf          # two fake SMSC links: "fakemt" and "fakemo"
    smsbox -v 1 kannel.conf             # sendsms on sendsms_url, one sendsms-user
    fakesmsc -H 127.0.0.1 -r <mt port> -m 0 "..."   # the handset side: prints each MT

Messages otpgw submits reach the long-running ``fakesmsc`` on the ``fakemt`` link; its
output is parsed into ``SmscMessage`` (``smsc_messages``, ``wait_for_smsc``). Kannel's
fake SMSC acknowledges each one, so bearerbox reports DLR 8 (SMSC accepted) and 1
(delivered) to the message's ``dlr-url``. ``inject_mo`` sends an inbound SMS through a
short-lived second ``fakesmsc`` on the ``fakemo`` link (which carries no MT:
``allowed-smsc-id``); smsbox's catch-all ``sms-service`` calls ``mo_url``.

``FakeSendsms`` is a stand-in for smsbox's sendsms interface alone, for the faults a
real Kannel will not produce on demand (``fail_next``, see ``carrier_server``).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import pytest

from .carrier_server import Answer, FakeCarrier, RecordedRequest

BINARIES = {"bearerbox": "/usr/sbin/bearerbox", "smsbox": "/usr/sbin/smsbox",
            "fakesmsc": "/usr/lib/kannel/test/fakesmsc"}
USERNAME, PASSWORD = "otpgw", "kannel-test-password"
GLOBAL_SENDER = "12345"


def find_kannel() -> dict[str, str]:
    """Paths of bearerbox, smsbox and fakesmsc, installing Kannel when root can."""
    found = {name: shutil.which(name) or path for name, path in BINARIES.items()}
    if all(os.access(path, os.X_OK) for path in found.values()):
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "kannel", "kannel-extras"],
                       check=False, env=env, capture_output=True)
        if all(os.access(path, os.X_OK) for path in found.values()):
            return found
    pytest.fail("Kannel is not installed and could not be installed "
                "(apt-get install kannel kannel-extras: bearerbox, smsbox, fakesmsc)", pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class SmscMessage:
    """One MT message as the SMSC (fakesmsc) received it."""

    sender: str
    receiver: str
    coding: str  # "text" (GSM/8-bit text), "ucs-2", "data", "udh"
    text: str


def parse_smsc_line(line: str) -> SmscMessage | None:
    """``Got message N: <sender receiver type data>`` from fakesmsc's output."""
    match = re.search(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$", line)
    if not match:
        return None
    sender, receiver, kind, data = match.groups()
    if kind == "ucs-2":
        text = unquote_to_bytes(data.replace("+", " ")).decode("utf-16-be")
    elif kind in ("data", "udh"):
        text = unquote_to_bytes(data.split(" ")[-1].replace("+", " ")).decode("utf-8", errors="replace")
    else:
        text = data
    return SmscMessage(sender, receiver, kind, text)


class _Process:
    """A child whose output goes to a file we can read while it runs."""

    def __init__(self, args: list[str], log: Path, cwd: Path) -> None:
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 3.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


class KannelGateway:
    """bearerbox + smsbox + fakesmsc on free loopback ports; ``with`` starts and stops it."""

    def __init__(self, mo_url: str = "") -> None:
        self.binaries = find_kannel()
        self.dir = Path(tempfile.mkdtemp(prefix="otpgw-kannel-"))
        self.ports = {k: free_port() for k in ("admin", "smsbox", "mt", "mo", "sendsms")}
        self.mo_url = mo_url
        self.processes: dict[str, _Process] = {}

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def config(self) -> str:
        p = self.ports
        service = (f'group = sms-service\nkeyword = default\ncatch-all = true\nmax-messages = 0\n'
                   f'get-url = "{self.mo_url}"\n') if self.mo_url else ""
        return f"""group = core
admin-port = {p['admin']}
admin-interface = 127.0.0.1
admin-password = admin-{os.getpid()}
admin-allow-ip = 127.0.0.1
smsbox-port = {p['smsbox']}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fakemt
port = {p['mt']}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsc
smsc = fake
smsc-id = fakemo
port = {p['mo']}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1
allowed-smsc-id = fakemo

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {p['smsbox']}
sendsms-port = {p['sendsms']}
sendsms-interface = 127.0.0.1
global-sender = {GLOBAL_SENDER}

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 10
concatenation = true

{service}"""

    def start(self) -> "KannelGateway":
        conf = self.dir / "kannel.conf"
        conf.write_text(self.config())
        try:
            self._run("bearerbox", [self.binaries["bearerbox"], "-v", "1", str(conf)])
            self._wait("bearerbox", "Start-up done")
            self._run("smsbox", [self.binaries["smsbox"], "-v", "1", str(conf)])
            self._run("fakesmsc", [self.binaries["fakesmsc"], "-H", "127.0.0.1", "-r", str(self.ports["mt"]),
                                   "-m", "0", "0 0 text unused"])
            self._wait("smsbox", "Connected to bearerbox")
            self._wait("bearerbox", "Fakesmsc client connected")
        except BaseException:
            self.close()
            raise
        return self

    def _run(self, name: str, args: list[str]) -> None:
        self.processes[name] = _Process(args, self.dir / f"{name}.out", self.dir)

    def _wait(self, name: str, text: str, timeout: float = 20.0) -> None:
        process = self.processes[name]
        deadline = time.monotonic() + timeout
        while text not in process.output():
            if process.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not report {text!r}:\n{process.output()[-3000:]}")
            time.sleep(0.05)

    def smsc_messages(self) -> list[SmscMessage]:
        lines = self.processes["fakesmsc"].output().splitlines()
        return [m for m in map(parse_smsc_line, lines) if m is not None]

    def wait_for_smsc(self, predicate, timeout: float = 15.0) -> list[SmscMessage]:
        deadline = time.monotonic() + timeout
        while not predicate(messages := self.smsc_messages()):
            if time.monotonic() > deadline:
                raise AssertionError(f"fakesmsc did not receive the expected messages; got {messages}")
            time.sleep(0.05)
        return messages

    def inject_mo(self, sender: str, receiver: str, text: str) -> None:
        """Send an inbound SMS from a handset through the ``fakemo`` link."""
        if all(ord(c) < 128 for c in text):
            line = f"{sender} {receiver} text {text}"
        else:
            line = f"{sender} {receiver} ucs2 {quote(text.encode('utf-16-be'))}"
        process = _Process([self.binaries["fakesmsc"], "-H", "127.0.0.1", "-r", str(self.ports["mo"]),
                            "-i", "0.02", "-m", "1", line], self.dir / "mo.out", self.dir)
        try:
            deadline = time.monotonic() + 10
            while "sent message 1" not in process.output() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # let bearerbox read the line before the link closes
        finally:
            process.stop()

    def close(self) -> None:
        for name in ("fakesmsc", "smsbox", "bearerbox"):
            if name in self.processes:
                self.processes.pop(name).stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "KannelGateway":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


class FakeSendsms(FakeCarrier):
    """smsbox's ``/cgi-bin/sendsms`` answers: ``202 0: Accepted for delivery``, or 403
    ``Authorization failed for sendsms`` for other credentials (query or X-Kannel headers)."""

    def answer(self, request: RecordedRequest) -> Answer:
        if request.path != "/cgi-bin/sendsms":
            return Answer.text(404, "Unknown service")
        user = request.query.get("username") or request.header("X-Kannel-Username")
        password = request.query.get("password") or request.header("X-Kannel-Password")
        if (user, password) != (USERNAME, PASSWORD):
            return Answer.text(403, "Authorization failed for sendsms")
        return Answer.text(202, "0: Accepted for delivery")
