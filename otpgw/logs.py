"""Structured JSON logs: one line per record, audit fields included, and a last-line redactor.

Phone numbers are masked where they are logged (``audit``); as a second guard the
formatter masks any free-standing run of six or more digits in a message, so a
careless log call still cannot print a number or a code in clear.

Each API request writes two lines (its audit event and its access line), so a line's
cost is kept low: ``configure_logging`` turns off the caller, thread and process-name
lookups that no JSON field shows (``logging._srcfile`` is the switch the logging HOWTO
names for the caller), the encoder is built once, and a line is written and flushed
under one lock instead of two. The web layer holds a request's lines (``hold_lines``)
and releases them when it ends (``release_lines``): one write per request instead of
one per line. A write into a container's stdout pipe wakes its reader, and under load
that write was a quarter of the logging cost (benchmarks/README.md).
"""
from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import traceback

from .domain.phones import redact

_ENCODE = json.JSONEncoder(default=str).encode  # json.dumps(entry, default=str), without rebuilding it per line
_EXTRAS = ("audit", "http")  # the dicts whose fields become the line's own
# The lines of the request this greenlet or thread serves, while held: (handler, line).
_held: contextvars.ContextVar[list[tuple["LineHandler", str]] | None] = contextvars.ContextVar(
    "otpgw_held_lines", default=None)



class JsonFormatter(logging.Formatter):
    _second, _stamp = -1, ""

    def _timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self._timestamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        fields = record.__dict__
        for extra in _EXTRAS:
            if extra in fields:
                entry.update(fields[extra])
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
            entry["exc"] = redact(self.formatException(record.exc_info))
        return _ENCODE(entry)


class LineHandler(logging.StreamHandler):
    """A StreamHandler that flushes inside the lock ``handle`` already holds (the stock
    one takes it a second time to flush; under gevent each take costs a few µs)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            held = _held.get()
            if held is not None:
                held.append((self, line))
            else:
                self.write(line)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def hold_lines() -> None:
    """Hold the lines this greenlet or thread logs until ``release_lines`` (a request's)."""
    _held.set([])


def release_lines() -> None:
    """Write the held lines, each handler's in one write, and stop holding. Safe to call
    again (a request's end and its teardown both call it)."""
    held = _held.get()
    if held is None:
        return
    _held.set(None)
    by_handler: dict[LineHandler, list[str]] = {}
    for handler, line in held:
        by_handler.setdefault(handler, []).append(line)
    for handler, lines in by_handler.items():
        handler.acquire()
        try:
            handler.write("".join(lines))
        except Exception:  # as logging does with a handler that fails: say so, go on
            if logging.raiseExceptions:
                traceback.print_exc(file=sys.stderr)
        finally:
            handler.release()


def configure_logging(level: str = "INFO") -> None:
    # No JSON field shows the caller, the thread or the process name: skip finding them.
    # (%(process)d stays: gunicorn's own lines show the pid.)
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = LineHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("werkzeug").setLevel("WARNING")
