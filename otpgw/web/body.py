"""Request bodies: JSON objects only, read within a size and a time limit, loaded by a schema.

Every malformed body is a 400 in the envelope, never a 500: invalid JSON, a body nested
deep enough to exhaust the parser, anything but an object. The size limit holds whatever
the framing (a chunked body has no Content-Length to check up front), and a body that
trickles in slower than ``OTPGW_BODY_TIMEOUT`` is answered 408, so stalled clients cannot
hold the server's connections for minutes.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError

from ..errors import InvalidRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

_CHUNK = 8192


def load(schema: Schema) -> Any:
    """The request's JSON body loaded by ``schema``."""
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        body = json.loads(read_body())
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply") from None
    except ValueError:
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise InvalidRequest("the request has invalid fields", details=exc.messages) from None


def read_body() -> bytes:
    """The raw body: at most ``MAX_CONTENT_LENGTH`` bytes, within ``otpgw.body_timeout`` seconds."""
    config, req = current_app.config, request._get_current_object()  # one proxy lookup each
    limit = config["MAX_CONTENT_LENGTH"]
    declared = req.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge()
    with _deadline(config["otpgw.body_timeout"]):
        return _read_limited(req.environ["wsgi.input"], limit, declared)


def _read_limited(stream: Any, limit: int, declared: int | None) -> bytes:
    """Read until EOF (or the declared length); more than ``limit`` bytes is a 413."""
    wanted = declared if declared is not None else limit + 1
    parts, size = [], 0
    while size < wanted:
        chunk = stream.read(min(_CHUNK, wanted - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise PayloadTooLarge()
    return b"".join(parts)


class _deadline:
    """A time limit on the body read: a gevent Timeout under gevent workers, else the
    socket's own timeout (the sync and threaded servers read with a blocking socket).
    Timeouts are kept for reuse once stopped: building one costs a libev timer each time."""

    _idle: dict[float, list[Any]] = {}  # seconds -> stopped Timeouts (list.pop/append: greenlet-safe)

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._timeout = None

    def __enter__(self) -> None:
        timeout = _gevent_timeout()
        if timeout is not None:
            idle = self._idle.setdefault(self.seconds, [])
            self._timeout = idle.pop() if idle else timeout(self.seconds, RequestTimeout())
            self._timeout.start()

    def __exit__(self, *exc: object) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
            self._idle[self.seconds].append(self._timeout)


@functools.cache
def _gevent_timeout() -> Any:
    """gevent's Timeout when this process runs under gevent (its sockets are patched), else
    None. Asked once: a gunicorn worker patches before it loads the app."""
    try:
        import gevent
        from gevent import monkey
    except ImportError:
        return None
    return gevent.Timeout if monkey.is_module_patched("socket") else None
