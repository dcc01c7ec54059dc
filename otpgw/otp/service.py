"""OtpService: send and verify one-time codes. No Flask here; views call these methods.

Policy that needs no state (number validity, country allow-list, landlines, lengths)
is decided here before Redis is touched; every rule that needs state is decided by
the store's one script per operation. The clock is injected so tests control time.
"""
from __future__ import annotations

import time
from typing import Callable

from ..config import Settings
from ..delivery.router import Router
from ..domain import codes
from ..domain.codes import CodeKeys, Tags
from ..domain.outcomes import CodeStatus, Refusal, VerifyOutcome
from ..domain.phones import Phone, parse_phone
from ..domain.records import Attempt, AttemptOutcome, NewCode, SendOutcome
from ..domain.sealing import Sealer
from ..domain.templates import render, resolve_locale
from ..errors import Gone, InvalidRequest, KeyUnavailable, Locked, NotFound, OptedOut, RateLimited
from ..events import metrics
from ..events.audit import audit
from ..store import CodeStore
from .policy import Policy
from .types import (
    CancelResult,
    SendRequest,
    SendResult,
    StatusResult,
    VerifyRequest,
    VerifyResult,
)


class OtpService:
    def __init__(self, settings: Settings, codes_store: CodeStore, *, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.codes = codes_store
        self.clock = clock
        self.policy = Policy(settings)
        self.router = Router(settings.routes)
        self.sealer = Sealer(settings.secrets.keys, settings.secrets.known)
        self.tags = Tags(settings.secrets.tagging_key)
        self.keys = CodeKeys(settings.secrets.keys, settings.secrets.known)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def phone(self, raw: str) -> Phone:
        return parse_phone(raw, self.settings.numbers.default_region)

    # -- send -----------------------------------------------------------------------
    def send(self, request: SendRequest, client: str) -> SendResult:
        phone = self.policy.admit(self.phone(request.phone))
        ttl = request.ttl or self.settings.codes.ttl
        if ttl > self.settings.codes.max_ttl:
            raise InvalidRequest(f"ttl must be at most {self.settings.codes.max_ttl} seconds", details={"ttl": ttl})
        new = self._new_code(request, client, phone, ttl)
        outcome = self.codes.issue(new)
        refusal = outcome.refusal.value if outcome.refusal else ""
        audit("otp.send", code_id="" if refusal else new.code_id, phone=phone.e164, client=client,
              country=phone.country, outcome=refusal or "queued", limit=outcome.limit)
        metrics.count(metrics.SENDS, refusal or "queued")
        if outcome.refusal in (Refusal.LOCKED, Refusal.RATE_LIMITED):
            metrics.count(metrics.REFUSALS, outcome.limit)
        _refuse(outcome)
        return SendResult(new.code_id, CodeStatus.PENDING, new.expires_ms, new.now_ms + outcome.retry_after_ms,
                          phone)

    def _new_code(self, request: SendRequest, client: str, phone: Phone, ttl: int) -> NewCode:
        """A fresh code as the store takes it: digest, tags and the sealed SMS; never the code."""
        s = self.settings.codes
        code = codes.generate_code(request.code_length or s.length)
        phone_tag = self.tags.phone(phone.e164)
        locale = resolve_locale(request.locale or s.default_locale, default=s.default_locale)
        text = render(code, locale=locale, brand=s.brand, ttl_seconds=ttl, webotp_domain=s.webotp_domain)
        limits, prefix = self.policy.send_limits(phone)
        return NewCode(
            code_id=codes.new_id(phone_tag), phone_tag=phone_tag,
            digest=self.keys.digest(phone_tag, client, code), country=phone.country,
            client=client, transport=self.router.first(phone, text),
            sealed=self.sealer.seal({"to": phone.e164, "text": text}), now_ms=self.now_ms(), ttl_ms=ttl * 1000,
            locale=locale, limits=limits, user_tag=self.tags.user(client, request.user_ref),
            ip_tag=self.tags.ip(self.policy.client_network(request.client_ip)), prefix=prefix)

    # -- verify ---------------------------------------------------------------------
    def verify(self, request: VerifyRequest, client: str) -> VerifyResult:
        code_id = request.id or ""
        if request.phone:
            phone_tag = self.tags.phone(self.phone(request.phone).e164)
            if code_id and codes.tag_of(code_id) != phone_tag:
                raise NotFound(details={"reason": VerifyOutcome.NOT_FOUND.value})
        else:
            phone_tag = codes.tag_of(code_id)
        result = self.codes.verify(Attempt(
            phone_tag=phone_tag, code_id=code_id, client=client, now_ms=self.now_ms(),
            candidates=self.keys.candidates(phone_tag, client, request.code),
            limits=self.policy.verify_limits(), user_tag=self.tags.user(client, request.user_ref),
            ip_tag=self.tags.ip(self.policy.client_network(request.client_ip))))
        audit("otp.verify", code_id=result.code_id, client=client, outcome=result.outcome.value, limit=result.limit)
        metrics.count(metrics.VERIFIES, result.outcome.value)
        if result.lock_started:
            audit("otp.lockout", code_id=result.code_id, client=client, limit=result.limit,
                  retry_after_ms=result.retry_after_ms)
            metrics.count(metrics.LOCKOUTS, result.limit)
        elif result.outcome in (VerifyOutcome.LOCKED, VerifyOutcome.RATE_LIMITED):
            metrics.count(metrics.REFUSALS, result.limit)
        return _answer(result)

    # -- status and cancel ----------------------------------------------------------
    def status(self, code_id: str, client: str) -> StatusResult:
        """The code's record and its status now (a pending code past expiry is expired)."""
        record = self.codes.record(codes.tag_of(code_id), code_id)
        if not record or record.client != client:
            raise NotFound()
        return StatusResult(record, record.status_at(self.now_ms()))

    def cancel(self, code_id: str, client: str) -> CancelResult:
        status = self.codes.cancel(codes.tag_of(code_id), code_id, client, self.now_ms())
        if status == "not_found":
            raise NotFound()
        audit("otp.cancel", code_id=code_id, client=client, status=status)
        return CancelResult(code_id, CodeStatus(status))


_GONE_MESSAGES = {
    VerifyOutcome.EXPIRED: "the code has expired",
    VerifyOutcome.MAX_ATTEMPTS: "too many wrong attempts; the code is no longer valid",
    VerifyOutcome.ALREADY_USED: "the code was already used",
    VerifyOutcome.CANCELED: "the code was canceled",
}


def _refuse(outcome: SendOutcome) -> None:
    """Raise the error a refused send answers with; return if the code was issued."""
    if outcome.refusal is Refusal.OPTED_OUT:
        raise OptedOut()
    if outcome.refusal is Refusal.LOCKED:
        raise Locked(retry_after_ms=outcome.retry_after_ms, details={"limit": outcome.limit})
    if outcome.refusal is Refusal.RATE_LIMITED:
        raise RateLimited(f"too many codes requested ({outcome.limit})",
                          retry_after_ms=outcome.retry_after_ms, details={"limit": outcome.limit})


def _answer(result: AttemptOutcome) -> VerifyResult:
    """The 200 answer of a verify, or the error that names its exact reason."""
    outcome = result.outcome
    details = {"reason": outcome.value, "id": result.code_id} if result.code_id else {"reason": outcome.value}
    if outcome is VerifyOutcome.APPROVED:
        return VerifyResult(True, result.code_id, CodeStatus.APPROVED, outcome)
    if outcome is VerifyOutcome.INVALID:
        status = CodeStatus.PENDING if result.attempts_left else CodeStatus.MAX_ATTEMPTS
        return VerifyResult(False, result.code_id, status, outcome, result.attempts_left)
    if outcome is VerifyOutcome.NOT_FOUND:
        raise NotFound(details=details)
    if outcome is VerifyOutcome.LOCKED:
        raise Locked(retry_after_ms=result.retry_after_ms,
                     details={**details, "limit": result.limit, "attempts_left": result.attempts_left})
    if outcome is VerifyOutcome.RATE_LIMITED:
        raise RateLimited(f"too many verifications ({result.limit})", retry_after_ms=result.retry_after_ms,
                          details={"limit": result.limit})
    if outcome is VerifyOutcome.KEY_UNKNOWN:  # a newer process made it; another one can check it
        raise KeyUnavailable(details=details)
    raise Gone(_GONE_MESSAGES[outcome], code=outcome.value, details=details)
