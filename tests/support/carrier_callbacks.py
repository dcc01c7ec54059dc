"""Carrier callbacks as the carrier would send them, to hand to otpgw three ways.

A ``CarrierCallback`` is one HTTP call: method, the full public ``url`` the carrier
calls (query included), a form, a JSON body or neither, and headers (a signature).
The fake carriers in ``carriers`` build them signed the carrier's way with the
carrier's own SDK. Then:

- ``CarrierCallback.recorded(request, base_url)`` turns a call a real carrier (Kannel)
  made to a ``CallbackRecorder`` into one;
- ``callback.request(now_ms=...)`` -> otpgw's ``CallbackRequest``, for a transport's
  ``handle_callback`` directly (``kind`` is the last path segment);
- ``callback.fire(flask_client)`` -> posts it to a Flask test client at the URL's path;
- ``callback.fire("http://127.0.0.1:8000")`` -> sends it over HTTP to a running server,
  at the URL's path and query (the Host differs, which the view must not sign with:
  it rebuilds the public URL from ``public_url``).
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from otpgw.transports.base import CallbackRequest

from .carrier_server import RecordedRequest


@dataclass(frozen=True)
class CarrierCallback:
    method: str
    url: str
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def path_and_query(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @property
    def body(self) -> bytes:
        if self.json is not None:
            return json.dumps(self.json).encode()
        return urlencode(self.form).encode() if self.form else b""

    @classmethod
    def recorded(cls, request: RecordedRequest, base_url: str) -> "CarrierCallback":
        """A call a real carrier made to a ``CallbackRecorder`` at ``base_url``, replayable."""
        return cls(request.method, base_url.rstrip("/") + request.target, request.form,
                   request.json, {k: v for k, v in request.headers.items() if k.lower().startswith("x-")})

    def with_headers(self, **headers: str) -> "CarrierCallback":
        return replace(self, headers={**self.headers, **headers})

    def request(self, *, now_ms: int | None = None, url: str | None = None) -> CallbackRequest:
        """otpgw's framework-free view of this call (``url`` overrides what was signed)."""
        target = url or self.url
        query = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        headers = dict(self.headers)
        if self.json is not None:
            headers["Content-Type"] = "application/json"
        elif self.form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return CallbackRequest(self.method, target, self.kind, query, dict(self.form), headers, self.body,
                               int(time.time() * 1000) if now_ms is None else now_ms, self.json)

    def fire(self, target: Any) -> tuple[int, str]:
        """Send to a Flask test client or a base URL; returns (status, body text)."""
        if isinstance(target, str):
            return self._fire_http(target.rstrip("/"))
        response = target.open(self.path_and_query, method=self.method, headers=self.headers,
                                data=self.form or None, json=self.json)
        return response.status_code, response.get_data(as_text=True)

    def _fire_http(self, base: str) -> tuple[int, str]:
        headers = dict(self.headers)
        data = None
        if self.method != "GET":
            data = self.body
            headers["Content-Type"] = "application/json" if self.json is not None else \
                "application/x-www-form-urlencoded"
        request = urllib.request.Request(base + self.path_and_query, data=data, headers=headers, method=self.method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read().decode()
