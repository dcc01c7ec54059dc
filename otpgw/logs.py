"""Structured JSON logs: one line per record, audit fields included, and a last-line redactor.

Phone numbers are masked where they are logged (``audit``); as a second guard the
formatter masks any free-standing run of six or more digits in a message, so a
careless log call still cannot print a number or a code in clear.
"""
from __future__ import annotations

import json
import logging
import sys
import time

from .domain.phones import redact


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
        for extra in ("audit", "http"):
            if hasattr(record, extra):
                entry.update(getattr(record, extra))
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("werkzeug").setLevel("WARNING")
