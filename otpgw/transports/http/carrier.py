"""What every HTTP carrier transport shares: its pooled client, its clock, its URL checks.

A profile (twilio, vonage, kannel, http) subclasses ``HttpCarrierTransport``, reads its
own options in ``from_config`` (the common ones through ``ClientOptions.read``) and
implements ``send`` and ``handle_callback``. The clock is injected (seconds since the
epoch) so validity periods and callback freshness can be tested without sleeping.
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from ...config.options import Options
from ..base import Transport, TransportHealth
from .client import CarrierClient, ClientOptions

Clock = Callable[[], float]
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?")


def _url(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    if not _URL.fullmatch(text):
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return text


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string (is its ${VARIABLE} set?)")
    return value


def url_option(options: Options, key: str, *default: str) -> str:
    """An absolute http(s) URL, without a trailing slash; required unless a default is given."""
    return options.get(key, _url, *default)


def secret_option(options: Options, key: str, *default: str) -> str:
    """A non-empty secret (an empty ``${VAR}`` must not pass as a password); required
    unless a default is given (the default may be '' for an optional secret)."""
    return options.get(key, _secret, *default)


class HttpCarrierTransport(Transport):
    """A transport that submits over HTTP through one pooled ``CarrierClient``."""

    def __init__(self, name: str, endpoint: str, client_options: ClientOptions = ClientOptions(), *,
                 auth: tuple[str, str] | None = None, clock: Clock = time.time) -> None:
        super().__init__(name)
        self.endpoint = endpoint
        self.clock = clock
        self.client = CarrierClient(name, client_options, auth=auth)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def health(self) -> TransportHealth:
        """Readiness never calls the carrier (that would bill or rate-limit); it shows
        where the transport points, without credentials."""
        parts = urlsplit(self.endpoint)
        return TransportHealth(True, "", {"type": self.type_name, "host": parts.hostname or "",
                                          "read_timeout": self.client.options.read_timeout})

    def close(self) -> None:
        self.client.close()
