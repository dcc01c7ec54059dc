"""``Otpgw``: the synchronous client of otpgw's HTTP API.

Retries are safe by construction:

- ``send`` carries an ``Idempotency-Key`` (one per call, made up unless you give one),
  so a retry after a timeout, a 503 or a dropped connection never sends a second SMS;
- ``verify`` is retried only when the service says nothing happened (503 with
  ``outcome: not_applied``, a key rotation's 503, a 429 that counted nothing) or the
  connection could not even be made, so a retry never spends an attempt twice;
- ``status`` and ``cancel`` are idempotent and retried on 503, 429 and network errors.

A 429 or 503 with ``Retry-After`` waits that long if it is at most ``max_retry_wait``
seconds; longer waits raise at once (a resend cooldown is the caller's to show). Other
errors raise the typed exception of their error code (``otpgw.client.errors``).
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable

import httpx

from . import errors
from .results import CodeInfo, SentCode, Verification, when

USER_AGENT = "otpgw-python-client"


class Otpgw:
    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 5.0, retries: int = 3,
                 max_retry_wait: float = 10.0, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        headers = {"User-Agent": USER_AGENT, **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout,
                                  transport=transport)
        self.retries, self.max_retry_wait, self._sleep = retries, max_retry_wait, sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Otpgw":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the API --------------------------------------------------------------------
    def send(self, phone: str, *, user_ref: str | None = None, client_ip: str | None = None,
             locale: str | None = None, code_length: int | None = None, ttl: int | None = None,
             webotp_domain: str | None = None, app_hash: str | None = None,
             idempotency_key: str | None = None) -> SentCode:
        """Send a code to ``phone``; returns its id and times."""
        body = _fields(phone=phone, user_ref=user_ref, client_ip=client_ip, locale=locale, code_length=code_length,
                       ttl=ttl, webotp_domain=webotp_domain, app_hash=app_hash)
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        reply = self._call("POST", "/otp/send", json=body, headers=headers, safe=_always)
        data = reply.json()
        return SentCode(data["id"], data["status"], when(data["expires_at"]), when(data["resend_after"]),
                        replayed=reply.headers.get("Idempotent-Replayed") == "true")

    def verify(self, code: str, *, id: str | None = None, phone: str | None = None, user_ref: str | None = None,
               client_ip: str | None = None) -> Verification:
        """Check ``code`` for the code ``id`` (or the newest code of ``phone``)."""
        body = _fields(code=code, id=id, phone=phone, user_ref=user_ref, client_ip=client_ip)
        data = self._call("POST", "/otp/verify", json=body, safe=_nothing_happened).json()
        return Verification(data["valid"], data["id"], data["status"], data["reason"], data.get("attempts_left"))

    def status(self, code_id: str) -> CodeInfo:
        data = self._call("GET", f"/otp/{code_id}", safe=_always).json()
        return CodeInfo(data["id"], data["status"], data["attempts"], when(data["created_at"]),
                        when(data["expires_at"]), data.get("delivery", {}))

    def cancel(self, code_id: str) -> str:
        """Cancel a pending code; returns its status afterwards."""
        return self._call("POST", f"/otp/{code_id}/cancel", safe=_always).json()["status"]

    # -- one call, with retries -------------------------------------------------------
    def _call(self, method: str, path: str, *, safe: Callable[[errors.OtpgwError], bool], **kwargs: Any):
        for attempt in range(self.retries + 1):
            try:
                reply = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                error: errors.OtpgwError = errors.ConnectionFailed(f"{type(exc).__name__}: {exc}")
                retryable = isinstance(exc, httpx.ConnectError) or safe is _always
            else:
                if reply.is_success:
                    return reply
                error = _error(reply)
                retryable = error.status in (429, 503) and safe(error)
            wait = self._wait(error, attempt)
            if not retryable or attempt == self.retries or wait is None:
                raise error
            self._sleep(wait)
        raise AssertionError("unreachable")

    def _wait(self, error: errors.OtpgwError, attempt: int) -> float | None:
        """Seconds before the next try: the server's Retry-After, else a short back-off;
        None when the server asks for longer than ``max_retry_wait``."""
        wait = error.retry_after if error.retry_after is not None else min(0.2 * 2 ** attempt, 2.0)
        return wait if wait <= self.max_retry_wait else None


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _always(_: errors.OtpgwError) -> bool:
    return True


def _nothing_happened(error: errors.OtpgwError) -> bool:
    """A verify may be retried when the service certainly counted nothing."""
    if error.status == 429:
        return True  # a rate limit refuses before anything is counted
    return error.details.get("outcome") == "not_applied" or error.retry_after is not None


def _error(reply: httpx.Response) -> errors.OtpgwError:
    try:
        body = reply.json()
    except ValueError:
        body = None
    retry_after = reply.headers.get("Retry-After")
    seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
    return errors.error_for(reply.status_code, body, seconds, reply.headers.get("X-Request-ID", ""))
