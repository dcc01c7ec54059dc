"""OtpService: send and verify one-time codes. No Flask here; views call these methods.

Policy that needs no state (number validity, country allow-list, landlines, lengths)
is decided here before Redis is touched; every rule that needs state is decided by
the store's one script per operation. The clock is injected so tests control time.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import codes, metrics
from .audit import audit
from .config import Settings
from .errors import CountryNotAllowed, Gone, InvalidPhone, InvalidRequest, Locked, NotFound, OptedOut, RateLimited
from .messages import render, resolve_locale
from .phones import Phone, parse_phone
from .sealing import Sealer
from .store import Attempt, AttemptOutcome, NewCode, Outcome, RedisStore, SendOutcome

def iso(ms: int | str) -> str:
    """Epoch milliseconds as an RFC 3339 UTC timestamp."""
    moment = dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SendResult:
    code_id: str
    expires_at_ms: int
    resend_after_ms: int
    phone: Phone  # for audit logs (masked there), never returned to the caller


class OtpService:
    def __init__(self, settings: Settings, store: RedisStore, *, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.sealer = Sealer(settings.secret_keys)
        self._keys = [k.encode() for k in settings.secret_keys]
        self._tag_key = self._keys[-1]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def tag(self, kind: str, value: str) -> str:
        return codes.identity_tag(self._tag_key, kind, value)

    def user_tag(self, client: str, user_ref: str | None) -> str:
        """user_ref namespaces belong to each calling client."""
        return self.tag("user", f"{client}\x00{user_ref}") if user_ref else ""

    def phone(self, raw: str) -> Phone:
        return parse_phone(raw, self.settings.default_region)

    # -- send -----------------------------------------------------------------------
    def send(self, request: dict[str, Any], client: str) -> SendResult:
        phone = self._admit(self.phone(request["phone"]))
        ttl = request.get("ttl") or self.settings.code_ttl
        if ttl > self.settings.max_code_ttl:
            raise InvalidRequest(f"ttl must be at most {self.settings.max_code_ttl} seconds", details={"ttl": ttl})
        new = self._new_code(request, client, phone, ttl)
        outcome = self.store.issue(new)
        audit("otp.send", code_id="" if outcome.refusal else new.code_id, phone=phone.e164, client=client,
              country=phone.country, outcome=outcome.refusal or "queued", limit=outcome.limit)
        metrics.count(metrics.SENDS, outcome.refusal or "queued")
        if outcome.refusal in ("locked", "rate_limited"):
            metrics.count(metrics.REFUSALS, outcome.limit)
        _refuse(outcome)
        return SendResult(new.code_id, new.now_ms + new.ttl_ms, new.now_ms + outcome.retry_after_ms, phone)

    def _admit(self, phone: Phone) -> Phone:
        """Stateless policy: the country allow-list and landlines."""
        s = self.settings
        if s.allowed_countries and phone.country not in s.allowed_countries:
            raise CountryNotAllowed(f"sending to {phone.country} is not allowed", details={"country": phone.country})
        if s.refuse_landlines and phone.is_landline:
            raise InvalidPhone("landline numbers cannot receive SMS codes", details={"reason": "landline"})
        return phone

    def _new_code(self, request: dict[str, Any], client: str, phone: Phone, ttl: int) -> NewCode:
        """A fresh code as the store takes it: digest, tags and the sealed SMS; never the code."""
        s = self.settings
        code = codes.generate_code(request.get("code_length") or s.code_length)
        phone_tag = self.tag("phone", phone.e164)
        locale = resolve_locale(request.get("locale") or s.default_locale, default=s.default_locale)
        text = render(code, locale=locale, brand=s.brand, ttl_seconds=ttl, webotp_domain=s.webotp_domain)
        prefix, prefix_cap = s.prefix_limit_for(phone.e164)
        return NewCode(
            code_id=codes.new_id(phone_tag), phone_tag=phone_tag,
            digest=codes.code_digest(self._keys[0], phone_tag, client, code), country=phone.country,
            client=client, transport=s.transport, sealed=self.sealer.seal({"to": phone.e164, "text": text}),
            now_ms=self.now_ms(), ttl_ms=ttl * 1000, locale=locale,
            user_tag=self.user_tag(client, request.get("user_ref")), ip_tag=self._ip_tag(request),
            prefix=prefix, prefix_cap=prefix_cap,
        )

    def _ip_tag(self, request: dict[str, Any]) -> str:
        return self.tag("ip", request["client_ip"]) if request.get("client_ip") else ""

    # -- verify ---------------------------------------------------------------------
    def verify(self, request: dict[str, Any], client: str) -> dict[str, Any]:
        code_id = request.get("id") or ""
        if request.get("phone"):
            phone_tag = self.tag("phone", self.phone(request["phone"]).e164)
            if code_id and codes.tag_of(code_id) != phone_tag:
                raise NotFound(details={"reason": Outcome.NOT_FOUND.value})
        else:
            phone_tag = codes.tag_of(code_id)
        result = self.store.verify(Attempt(
            phone_tag=phone_tag, code_id=code_id, client=client, now_ms=self.now_ms(),
            candidates=codes.candidate_digests(self._keys, phone_tag, client, request["code"]),
            user_tag=self.user_tag(client, request.get("user_ref")), ip_tag=self._ip_tag(request),
        ))
        audit("otp.verify", code_id=result.code_id, client=client, outcome=result.outcome.value, limit=result.limit)
        metrics.count(metrics.VERIFIES, result.outcome.value)
        if result.lock_started:
            audit("otp.lockout", code_id=result.code_id, client=client, limit=result.limit,
                  retry_after_ms=result.retry_after_ms)
            metrics.count(metrics.LOCKOUTS, result.limit)
        elif result.outcome in (Outcome.LOCKED, Outcome.RATE_LIMITED):
            metrics.count(metrics.REFUSALS, result.limit)
        return _answer(result)

    # -- status and cancel ----------------------------------------------------------
    def status(self, code_id: str, client: str) -> dict[str, Any]:
        record = self.store.record(codes.tag_of(code_id), code_id)
        if not record or record.get("client") != client:
            raise NotFound()
        status = record["status"]
        if status == "pending" and self.now_ms() >= int(record["expires_at"]):
            status = "expired"
        delivery = {"status": record.get("delivery_status", "queued"), "transport": record.get("transport", ""),
                    "updated_at": iso(record.get("delivery_updated_at") or record["created_at"])}
        if record.get("carrier_ids"):
            delivery["carrier_ids"] = record["carrier_ids"].split(",")
        if record.get("delivery_detail"):
            delivery["detail"] = record["delivery_detail"]
        return {"id": code_id, "status": status, "attempts": int(record["attempts"]),
                "created_at": iso(record["created_at"]), "expires_at": iso(record["expires_at"]),
                "delivery": delivery}

    def cancel(self, code_id: str, client: str) -> dict[str, Any]:
        status = self.store.cancel(codes.tag_of(code_id), code_id, client, self.now_ms())
        if status == "not_found":
            raise NotFound()
        audit("otp.cancel", code_id=code_id, client=client, status=status)
        return {"id": code_id, "status": status}


_GONE_MESSAGES = {
    Outcome.EXPIRED: "the code has expired",
    Outcome.MAX_ATTEMPTS: "too many wrong attempts; the code is no longer valid",
    Outcome.ALREADY_USED: "the code was already used",
    Outcome.CANCELED: "the code was canceled",
}


def _refuse(outcome: SendOutcome) -> None:
    """Raise the error a refused send answers with; return if the code was issued."""
    if outcome.refusal == "opted_out":
        raise OptedOut()
    if outcome.refusal == "locked":
        raise Locked(retry_after_ms=outcome.retry_after_ms, details={"limit": outcome.limit})
    if outcome.refusal:
        raise RateLimited(f"too many codes requested ({outcome.limit})",
                          retry_after_ms=outcome.retry_after_ms, details={"limit": outcome.limit})


def _answer(result: AttemptOutcome) -> dict[str, Any]:
    """The 200 body of a verify, or the error that names its exact reason."""
    reason = result.outcome.value
    details = {"reason": reason, "id": result.code_id} if result.code_id else {"reason": reason}
    if result.outcome is Outcome.APPROVED:
        return {"valid": True, "id": result.code_id, "status": "approved", "reason": reason}
    if result.outcome is Outcome.INVALID:
        status = "pending" if result.attempts_left else "max_attempts"
        return {"valid": False, "id": result.code_id, "status": status, "reason": reason,
                "attempts_left": result.attempts_left}
    if result.outcome is Outcome.NOT_FOUND:
        raise NotFound(details=details)
    if result.outcome is Outcome.LOCKED:
        raise Locked(retry_after_ms=result.retry_after_ms,
                     details={**details, "limit": result.limit, "attempts_left": result.attempts_left})
    if result.outcome is Outcome.RATE_LIMITED:
        raise RateLimited(f"too many verifications ({result.limit})", retry_after_ms=result.retry_after_ms,
                          details={"limit": result.limit})
    raise Gone(_GONE_MESSAGES[result.outcome], code=reason, details=details)
