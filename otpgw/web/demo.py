"""Dev mode's demo page: type a number, watch the SMS arrive on a simulated phone, type the code.

``Inbox`` is a text stream the dev runtime gives the console transport
(``ConsoleTransport(stream=inbox)``): it echoes everything to the real console and keeps
the last messages it recognises, so the page can show them. Numbers stay masked, as
the console prints them; the text shows the code, which is the point of dev mode. The
blueprint is registered only in dev mode (``otpgw dev``): ``/`` serves the page,
``/demo/inbox`` the messages.
"""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import TextIO

from flask import Blueprint, current_app, request, send_from_directory

from ..errors import InvalidRequest

bp = Blueprint("demo", __name__, static_folder="demo_page", static_url_path="/demo/static")
_SMS = re.compile(r"\[otpgw console SMS\] to (\S+) \(([^)]*)\):\n((?:    .*(?:\n|$))*)")


class Inbox:
    """A stream that keeps the console transport's messages (the newest ``size``)."""

    def __init__(self, echo: TextIO | None = None, size: int = 50):
        self.echo = echo
        self._buffer: list[str] = []
        self._messages: deque[dict] = deque(maxlen=size)
        self._count = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer.append(text)
        if self.echo is not None:
            self.echo.write(text)
        return len(text)

    def flush(self) -> None:
        """The console transport flushes after each message: read what has come in."""
        if self.echo is not None:
            self.echo.flush()
        with self._lock:
            pending, self._buffer = "".join(self._buffer), []
            for match in _SMS.finditer(pending):
                self._count += 1
                text = "\n".join(line[4:] for line in match.group(3).rstrip("\n").split("\n"))
                self._messages.append({"n": self._count, "to": match.group(1), "reference": match.group(2),
                                       "text": text, "at": time.time()})

    def messages(self, after: int = 0) -> list[dict]:
        """Messages numbered above ``after``, oldest first."""
        with self._lock:
            return [m for m in self._messages if m["n"] > after]


@bp.get("/")
def page():
    return send_from_directory(bp.static_folder, "index.html")


@bp.get("/demo/inbox")
def inbox():
    after = request.args.get("after", "0")
    if not after.isdigit() or len(after) > 12:
        raise InvalidRequest("after must be a message number", details={"after": after})
    box: Inbox | None = current_app.extensions.get("otpgw.inbox")
    return {"messages": box.messages(int(after)) if box else [], "attached": box is not None}


OPERATIONS = [
    {"method": "get", "path": "/", "summary": "Dev mode: the demo page", "tags": ["dev"], "security": [],
     "request": None, "responses": {200: None}, "content": "text/html"},
    {"method": "get", "path": "/demo/inbox", "summary": "Dev mode: the simulated phone's messages", "tags": ["dev"],
     "security": [], "request": None, "responses": {200: None, 400: None}, "content": "application/json",
     "parameters": [{"in": "query", "name": "after", "required": False, "schema": {"type": "string"},
                     "description": "only messages numbered above this"}]},
]
