"""OtpService: send and verify one-time codes. No Flask here; views call these methods.

Policy that needs no state (number validity, country allow-list, landlines, lengths)
is decided here before Redis is touched; every rule that needs state is decided by
the store's one script per operation. The clock is injected so tests control time.

Each call runs with its API client's settings (``otp.clients``): template, sender id,
code length and lifetime, formats, countries and limits. A send with an Idempotency-Key
carries a keyed tag of (client, key) and a keyed digest of the request into the send
script, which answers a repeat with the first answer (see ``store.idempotency``).
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Callable

from ..config import ClientConfig, Settings
from ..delivery.router import Router
from ..domain import codes
from ..domain.codes import CodeKeys, Tags
from ..domain.outcomes import CodeStatus, Refusal, VerifyOutcome
from ..domain.phones import Phone, parse_phone
from ..domain.records import Attempt, AttemptOutcome, NewCode, SendOutcome
from ..domain.sealing import Sealer
from ..domain.templates import check_app_hash_fits, render, resolve_locale
from ..errors import (
    Gone,
    IdempotencyMismatch,
    InvalidRequest,
    KeyUnavailable,
    Locked,
    NotFound,
    OptedOut,
    RateLimited,
)
from ..events import metrics
from ..events.audit import audit
from ..store import CodeStore
from .clients import ClientRegistry
from .policy import Policy
from .types import (
    CancelResult,
    SendRequest,
    SendResult,
    StatusResult,
    VerifyRequest,
    VerifyResult,
)

IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000  # a send may be retried under its Idempotency-Key for a day


class OtpService:
    def __init__(self, settings: Settings, codes_store: CodeStore, *, clock: Callable[[], float] = time.time,
                 clients: ClientRegistry | None = None):
        self.settings = settings
        self.codes = codes_store
        self.clock = clock
        self.clients = clients or ClientRegistry(settings)
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
    def send(self, request: SendRequest, client: str, *, idempotency_key: str | None = None) -> SendResult:
        profile = self.clients.get(client)
        phone = self.policy.admit(self.phone(request.phone), profile)
        ttl = request.ttl or profile.code_ttl or self.settings.codes.ttl
        if ttl > self.settings.codes.max_ttl:
            raise InvalidRequest(f"ttl must be at most {self.settings.codes.max_ttl} seconds", details={"ttl": ttl})
        new = self._new_code(request, profile, phone, ttl, idempotency_key)
        outcome = self.codes.issue(new)
        if outcome.replayed:
            audit("otp.send", code_id=outcome.code_id, phone=phone.e164, client=client, outcome="replayed")
            metrics.count(metrics.SENDS, "replayed")
            return SendResult(outcome.code_id, CodeStatus.PENDING, outcome.expires_ms, outcome.resend_after_ms, phone,
                              replayed=True)
        refusal = outcome.refusal.value if outcome.refusal else ""
        audit("otp.send", code_id="" if refusal else new.code_id, phone=phone.e164, client=client,
              country=phone.country, outcome=refusal or "queued", limit=outcome.limit)
        metrics.count(metrics.SENDS, refusal or "queued")
        if outcome.refusal in (Refusal.LOCKED, Refusal.RATE_LIMITED):
            metrics.count(metrics.REFUSALS, outcome.limit)
        _refuse(outcome)
        return SendResult(new.code_id, CodeStatus.PENDING, new.expires_ms, new.now_ms + outcome.retry_after_ms,
                          phone)

    def _new_code(self, request: SendRequest, profile: ClientConfig, phone: Phone, ttl: int,
                  idempotency_key: str | None) -> NewCode:
        """A fresh code as the store takes it: digest, tags and the sealed SMS; never the code."""
        s, client = self.settings.codes, profile.name
        code = codes.generate_code(request.code_length or profile.code_length or s.length)
        phone_tag = self.tags.phone(phone.e164)
        default_locale = profile.default_locale or s.default_locale
        locale = resolve_locale(request.locale or default_locale, default=default_locale)
        text = self._text(code, request, profile, locale, ttl)
        limits, prefix = self.policy.send_limits(phone, profile)
        payload = {"to": phone.e164, "text": text, "cc": phone.country, "nt": phone.number_type,
                   **({"from": profile.sender_id} if profile.sender_id else {})}
        idempotency_tag, request_digest = self._idempotency(client, idempotency_key, request, phone)
        return NewCode(
            code_id=codes.new_id(phone_tag), phone_tag=phone_tag,
            digest=self.keys.digest(phone_tag, client, code), country=phone.country,
            client=client, transport=self.router.first(phone, text),
            sealed=self.sealer.seal(payload), now_ms=self.now_ms(), ttl_ms=ttl * 1000,
            locale=locale, limits=limits, user_tag=self.tags.user(client, request.user_ref),
            ip_tag=self.tags.ip(self.policy.client_network(request.client_ip)), prefix=prefix,
            idempotency_tag=idempotency_tag, request_digest=request_digest,
            idempotency_ttl_ms=IDEMPOTENCY_TTL_MS if idempotency_tag else 0, hook=bool(profile.webhook_url))

    def _text(self, code: str, request: SendRequest, profile: ClientConfig, locale: str, ttl: int) -> str:
        """The SMS in the client's template, with one login-flow format: the request's,
        else the client's, else the deployment's WebOTP domain."""
        s = self.settings.codes
        if request.webotp_domain or request.app_hash:
            formats = {"webotp_domain": request.webotp_domain or "", "app_hash": request.app_hash or ""}
        elif profile.webotp_domain or profile.app_hash:
            formats = {"webotp_domain": profile.webotp_domain, "app_hash": profile.app_hash}
        else:
            formats = {"webotp_domain": s.webotp_domain}
        try:
            text = render(code, locale=locale, brand=profile.brand or s.brand, ttl_seconds=ttl,
                          template=profile.template, **formats)
            if formats.get("app_hash"):
                check_app_hash_fits(text)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        return text

    def _idempotency(self, client: str, key: str | None, request: SendRequest, phone: Phone) -> tuple[str, str]:
        """Keyed tags of (client, Idempotency-Key) and of the request (its phone in E.164,
        so two spellings of one number are one request); ('', '') without a key."""
        if not key:
            return "", ""
        tag_key = self.settings.secrets.tagging_key.encode()
        body = json.dumps({**dataclasses.asdict(request), "phone": phone.e164}, sort_keys=True)
        return (codes.identity_tag(tag_key, "idempotency", f"{client}\x00{key}"),
                codes.identity_tag(tag_key, "request", body))

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
            limits=self.policy.verify_limits(self.clients.get(client)),
            user_tag=self.tags.user(client, request.user_ref),
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
    if outcome.refusal is Refusal.IDEMPOTENCY_MISMATCH:
        raise IdempotencyMismatch()
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
