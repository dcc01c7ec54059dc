"""The one HTTP client of otpgw: a pooled ``httpx.Client`` per transport.

Only this package imports httpx. Every failure on the wire leaves ``request`` as the
most specific ``TransportError``, decided by *where* the exchange broke, because that
says whether the carrier may have taken the message:

- nothing reached the carrier (refused or timed-out connect, no free pooled connection,
  the request could not be written): ``TemporaryTransportError``, any transport may retry;
- the request was written but no complete answer came (read timeout, connection dropped
  or reset, an answer that is not HTTP): ``OutcomeUnknownError``, the worker retries on
  the *same* transport with the same reference.

An answer, whatever its status, comes back as a ``Reply``; each profile decides what
its status and body mean. The client is thread-safe: the worker sends from many threads.

Options every HTTP transport reads from its table (``ClientOptions.read``):

- ``connect_timeout`` (seconds, default 5): time to open a connection;
- ``read_timeout`` (seconds, default 10): time to wait for the answer once the request
  is written (also the write timeout);
- ``max_connections`` (default 20): pooled connections to the carrier, kept alive.
"""
from __future__ import annotations

import functools
import json
import ssl
from dataclasses import dataclass, field
from typing import Any, Mapping

import httpx

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
        timeout = httpx.Timeout(connect=options.connect_timeout, read=options.read_timeout,
                                write=options.read_timeout, pool=options.connect_timeout)
        limits = httpx.Limits(max_connections=options.max_connections,
                              max_keepalive_connections=options.max_connections)
        self._client = httpx.Client(timeout=timeout, limits=limits, auth=auth, follow_redirects=False,
                                    headers={"User-Agent": USER_AGENT}, verify=tls_context())

    def request(self, method: str, url: str, **kwargs: Any) -> Reply:
        """Send once; ``kwargs`` are httpx's (``data``, ``json``, ``params``, ``headers``,
        ``content``, ``auth``). Raises Temporary- or OutcomeUnknownError, never httpx's."""
        try:
            response = self._client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TemporaryTransportError(f"{self.name}: carrier not reachable ({_kind(exc)})") from exc
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            raise TemporaryTransportError(f"{self.name}: request not written ({_kind(exc)})") from exc
        except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.DecodingError) as exc:
            raise OutcomeUnknownError(f"{self.name}: no answer after the request was sent ({_kind(exc)}); "
                                      "the carrier may have accepted it") from exc
        except httpx.HTTPError as exc:
            raise TemporaryTransportError(f"{self.name}: request failed ({_kind(exc)})") from exc
        return Reply(response.status_code, response.headers, response.content)

    def close(self) -> None:
        self._client.close()


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every carrier client (loading the CA bundle costs
    tens of milliseconds and memory per client; a context is safe to share)."""
    return httpx.create_ssl_context()


def _kind(exc: Exception) -> str:
    """A short name for what broke (httpx messages can hold a whole URL with credentials)."""
    names = {httpx.ConnectError: "connection refused or failed", httpx.ConnectTimeout: "connect timeout",
             httpx.PoolTimeout: "no free connection", httpx.ReadTimeout: "read timeout",
             httpx.WriteTimeout: "write timeout", httpx.ReadError: "connection broken while reading",
             httpx.WriteError: "connection broken while writing",
             httpx.RemoteProtocolError: "connection dropped or answer not HTTP",
             httpx.DecodingError: "answer could not be decoded"}
    return names.get(type(exc), type(exc).__name__)
