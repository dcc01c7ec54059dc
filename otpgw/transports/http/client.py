"""The one HTTP client of otpgw's carriers: a pooled ``urllib3`` pool manager per transport.

Only this package imports the HTTP client. urllib3 (the engine under ``requests``) was
chosen over httpx after measuring: a form POST costs about 540 µs of CPU with urllib3
and 930 µs with httpx here, and a delivery worker's CPU per message is mostly this.
Every failure on the wire leaves ``request`` as the most specific ``TransportError``,
decided by *where* the exchange broke, because that says whether the carrier may have
taken the message:

- nothing reached the carrier (refused or timed-out connect, no free pooled connection,
  a TLS handshake that failed): ``TemporaryTransportError``, any transport may retry;
- the request was written but no complete answer came (read timeout, connection dropped
  or reset, an answer that is not HTTP): ``OutcomeUnknownError``, the worker retries on
  the *same* transport with the same reference.

An answer, whatever its status, comes back as a ``Reply``; each profile decides what
its status and body mean. The client is thread-safe: the worker sends from many threads.
urllib3 never retries or follows redirects here (``retries=False``): the worker decides.

Options every HTTP transport reads from its table (``ClientOptions.read``):

- ``connect_timeout`` (seconds, default 5): time to open a connection (and to wait for
  a free pooled one);
- ``read_timeout`` (seconds, default 10): time to wait for the answer once the request
  is written;
- ``max_connections`` (default 20): pooled connections to the carrier, kept alive.
"""
from __future__ import annotations

import functools
import json
import ssl
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlencode

import urllib3
from urllib3 import exceptions as errors

from ...config.options import Options
from ..base import OutcomeUnknownError, TemporaryTransportError

USER_AGENT = "otpgw"


@dataclass(frozen=True)
class ClientOptions:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_connections: int = 20

    @classmethod
    def read(cls, options: Options) -> "ClientOptions":
        return cls(options.float("connect_timeout", cls.connect_timeout, low=0.05, high=120),
                   options.float("read_timeout", cls.read_timeout, low=0.05, high=600),
                   options.int("max_connections", cls.max_connections, low=1, high=1000))


@dataclass(frozen=True)
class Reply:
    """A carrier's complete answer: status, headers (case-insensitive) and raw body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded JSON body; ValueError when it is not JSON."""
        return json.loads(self.body)


class CarrierClient:
    """Pooled connections to one carrier, with the transport's timeouts."""

    def __init__(self, name: str, options: ClientOptions = ClientOptions(),
                 auth: tuple[str, str] | None = None) -> None:
        self.name = name
        self.options = options
        headers = {"User-Agent": USER_AGENT}
        if auth:
            headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        self._headers = headers
        self._timeout = urllib3.Timeout(connect=options.connect_timeout, read=options.read_timeout)
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=options.max_connections, block=True,
                                         retries=False, timeout=self._timeout, ssl_context=tls_context())

    def request(self, method: str, url: str, *, data: Mapping[str, str] | None = None, json: Any = None,
                params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                content: bytes | None = None, auth: tuple[str, str] | None = None) -> Reply:
        """Send once: ``data`` as a form, ``json``, or raw ``content``; ``params`` join the
        query; ``auth`` is Basic for this one request. Raises Temporary- or
        OutcomeUnknownError, never the HTTP client's own errors."""
        body, sent = _body(data, json, content)
        sent.update(self._headers)
        if auth:
            sent.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        sent.update(headers or {})
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        try:
            response = self._pool.request(method, url, body=body, headers=sent, redirect=False,
                                          pool_timeout=self.options.connect_timeout)
        except (errors.NewConnectionError, errors.ConnectTimeoutError, errors.EmptyPoolError,
                errors.SSLError, errors.LocationParseError) as exc:
            raise TemporaryTransportError(f"{self.name}: carrier not reachable ({_kind(exc)})") from exc
        except (errors.ReadTimeoutError, errors.ProtocolError, errors.DecodeError) as exc:
            raise OutcomeUnknownError(f"{self.name}: no answer after the request was sent ({_kind(exc)}); "
                                      "the carrier may have accepted it") from exc
        except errors.HTTPError as exc:
            raise TemporaryTransportError(f"{self.name}: request failed ({_kind(exc)})") from exc
        return Reply(response.status, _Headers(response.headers), response.data)

    def close(self) -> None:
        self._pool.clear()


class _Headers(dict):
    """A reply's headers, looked up case-insensitively (``headers.get("retry-after")``)."""

    def __init__(self, raw: Mapping[str, str]):
        super().__init__((k.lower(), v) for k, v in raw.items())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


def _body(data: Mapping[str, str] | None, payload: Any, content: bytes | None) -> tuple[bytes | None, dict]:
    if data is not None:
        return urlencode(data).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    if payload is not None:
        return json.dumps(payload).encode(), {"Content-Type": "application/json"}
    return content, {}


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every carrier client (loading the CA bundle costs
    tens of milliseconds and memory per client; a context is safe to share)."""
    return ssl.create_default_context()


def _kind(exc: Exception) -> str:
    """A short name for what broke (the client's messages can hold a whole URL with credentials)."""
    names = {errors.NewConnectionError: "connection refused or failed", errors.ConnectTimeoutError: "connect timeout",
             errors.EmptyPoolError: "no free connection", errors.ReadTimeoutError: "read timeout",
             errors.ProtocolError: "connection dropped or answer not HTTP", errors.SSLError: "TLS failed",
             errors.DecodeError: "answer could not be decoded"}
    for kind, name in names.items():
        if isinstance(exc, kind):
            return name
    return type(exc).__name__
