"""Optional sampling of the gunicorn workers with py-spy (``--py-spy PATH``).

py-spy is not a dependency of the project; pass the binary of a scratch venv. Each
sample is charged to one component (``SAMPLE_COMPONENTS``), and the report splits the
workers' CPU per request by those shares.
"""
from __future__ import annotations

import argparse
import math
import subprocess
from collections import Counter
from pathlib import Path

from benchmarks.servers import Gunicorn, stop_process

# A sample is charged to the innermost frame whose file matches one of these, so time in
# the rest of the standard library (re, copy, datetime) and in gevent's cooperative sockets
# goes to the code that called it: a redis-py send is redis-py's, a gunicorn read is
# gunicorn's, a json.dumps of a log line is logging's. (logging is the one standard
# library package named: a record's life is all inside it.)
SAMPLE_COMPONENTS = [
    ("phonenumbers: parse, type, format", ("/phonenumbers/", "/otpgw/domain/phones.py")),
    ("sealing (AES-GCM)", ("/cryptography/", "/otpgw/domain/sealing.py")),
    ("marshmallow: schema load + dump", ("/marshmallow/", "/otpgw/web/schemas.py")),
    ("prometheus_client: counters, histogram", ("/prometheus_client/", "/otpgw/events/metrics.py")),
    ("JSON logging: audit + access lines", ("/logging/", "/otpgw/logs.py", "/otpgw/events/audit.py")),
    ("HMACs, ids, codes", ("/otpgw/domain/codes.py",)),
    ("SMS text and route", ("/otpgw/domain/templates.py", "/otpgw/domain/textcodec.py", "/otpgw/delivery/router.py")),
    ("redis-py + hiredis: pool, pack, socket, reply parsing", ("/redis/", "/hiredis/", "/otpgw/store/direct.py")),
    ("otpgw hooks: request id, auth, access fields, body read", ("/otpgw/web/requestlog.py", "/otpgw/web/auth.py",
                                                                "/otpgw/web/body.py", "/otpgw/otp/clients.py")),
    ("Flask + Werkzeug: dispatch, request, response", ("/flask/", "/werkzeug/", "/benchmarks/minimal_app.py")),
    ("gunicorn: HTTP parse, socket I/O, response", ("/gunicorn/",)),
    ("otpgw store: keys, script arguments", ("/otpgw/store/",)),
    ("otpgw service, policy, views", ("/otpgw/",)),
]
UNMATCHED = "gevent hub, standard library"  # a sample with no frame from the packages above
COMPONENTS = [name for name, _ in SAMPLE_COMPONENTS] + [UNMATCHED]  # the report's row order


class PySpy:
    """``py-spy record`` of every gunicorn worker during a measured window (``--py-spy``)."""

    def __init__(self, proc: subprocess.Popen, out: Path):
        self.proc, self.out = proc, out

    @classmethod
    def start(cls, args: argparse.Namespace, server: Gunicorn, kind: str, round_: int = 1) -> "PySpy | None":
        """A recording of ``--duration`` seconds, or None when this phase is not sampled."""
        if not args.py_spy or kind not in args.py_spy_phases:
            return None
        out = server.log.with_name(f"py-spy-{kind}-{round_}.txt")
        proc = subprocess.Popen(
            [args.py_spy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking",
             "--full-filenames", "--rate", "200", "--duration", str(math.ceil(args.duration)), "--format", "raw",
             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return cls(proc, out)

    def samples(self) -> dict[str, int]:
        """Samples by component, once the recording has finished."""
        self.proc.wait(60)
        totals: Counter = Counter()
        for line in self.out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            totals[self.component(stack.split(";"))] += int(count)
        return dict(totals)

    @staticmethod
    def component(frames: list[str]) -> str:
        for frame in reversed(frames):
            path = frame.rpartition(" (")[2]
            for name, patterns in SAMPLE_COMPONENTS:
                if any(p in path for p in patterns):
                    return name
        return UNMATCHED

    def stop(self) -> None:
        stop_process(self.proc)
