"""CodeStore: codes and their records. Every request-path call is one script, one round trip.

Each script checks its limits and applies its updates atomically, so concurrent
gunicorn workers can never both pass a limit or both approve one code. The caller
passes ``now`` and the limits; scripts never read the clock or the settings.
"""
from __future__ import annotations

import json
from typing import Any

from ..domain.outcomes import CodeStatus, DeliveryStatus, Refusal, VerifyOutcome
from ..domain.records import (
    Attempt,
    AttemptOutcome,
    CodeRecord,
    Delivery,
    NewCode,
    SendOutcome,
)
from ..domain.sms import DeliveryReport
from .direct import DirectScripts
from .errors import guard
from .idempotency import client_day_key, idempotency_key
from .keys import KeySpace
from .outbox import outbox_key
from .scripts import Scripts


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CodeStore:
    def __init__(self, client: Any, keys: KeySpace, scripts: Scripts, lane_ttl_ms: int):
        self.client = client
        self.keys = keys
        self.scripts = scripts
        self.lane_ttl_ms = lane_ttl_ms
        # send and verify: one EVALSHA each, on connections of their own (see store.direct)
        self._direct = DirectScripts.for_client(client)

    def _run(self, script: Any, keys: dict[str, str], args: dict[str, Any]) -> Any:
        return self._direct(script, keys=keys, args=args) if self._direct else script(keys=keys, args=args)

    @guard
    def issue(self, new: NewCode) -> SendOutcome:
        k, tag, limits, day = self.keys, new.phone_tag, new.limits, new.day
        scope = new.client if limits.lockout_per_client else ""
        keys = dict(phone_lock=k.lockout(tag, "lock", scope), user_lock=k.user(new.user_tag, "lock"),
                    opt_out=k.phone(tag, "optout"), cooldown=k.phone(tag, "cooldown"), sends=k.phone(tag, "sends"),
                    ip_sends=k.client_ip(new.ip_tag, "send"), country_day=k.country_day(new.country, day),
                    prefix_day=k.prefix_day(new.prefix, day), codes=k.codes(tag), purge=k.purge(tag),
                    digest=k.digest(tag, new.client), lane=k.lane(new.lane.value),
                    idempotency=idempotency_key(k, new.idempotency_tag),
                    client_day=client_day_key(k, new.client, day))
        args = dict(now=new.now_ms, id=new.code_id, digest=new.digest, ttl=new.ttl_ms,
                    retention=limits.retention_ms, cooldown=limits.cooldown_ms, window=limits.window_ms,
                    window_max=limits.window_max, ip_max=limits.ip_max if new.ip_tag else 0,
                    ip_window=limits.ip_window_ms, country_cap=limits.country_cap,
                    prefix_cap=limits.prefix_cap if new.prefix else 0, day_left=new.ms_to_day_end,
                    sealed=new.sealed, client=new.client, country=new.country,
                    locale=new.locale, transport=new.transport, user=new.user_tag, lane_name=new.lane.value,
                    lane_ttl=self.lane_ttl_ms, request=new.request_digest if new.idempotency_tag else "",
                    idem_ttl=new.idempotency_ttl_ms, client_cap=limits.client_cap, hook=new.hook)
        reply = self._run(self.scripts.send_code, keys, args)
        refusal, retry_ms, limit = text(reply[0]), int(reply[1]), text(reply[2])
        if refusal == "replayed":
            return SendOutcome(None, 0, "", replayed=True, code_id=text(reply[3]), expires_ms=int(reply[4]),
                               resend_after_ms=int(reply[5]))
        return SendOutcome(None if refusal == "ok" else Refusal(refusal), retry_ms, limit)

    @guard
    def verify(self, attempt: Attempt) -> AttemptOutcome:
        k, tag, limits = self.keys, attempt.phone_tag, attempt.limits
        scope = attempt.client if limits.lockout_per_client else ""
        keys = dict(codes=k.codes(tag), digest=k.digest(tag, attempt.client), phone_lock=k.lockout(tag, "lock", scope),
                    phone_fails=k.lockout(tag, "fails", scope), phone_level=k.lockout(tag, "level", scope),
                    ip_verifies=k.client_ip(attempt.ip_tag, "verify"), user_lock=k.user(attempt.user_tag, "lock"),
                    user_fails=k.user(attempt.user_tag, "fails"), user_level=k.user(attempt.user_tag, "level"),
                    outbox=outbox_key(k))
        args = dict(now=attempt.now_ms, id=attempt.code_id, client=attempt.client, user=attempt.user_tag,
                    candidates=",".join(attempt.candidates), max_attempts=limits.max_attempts,
                    threshold=limits.lockout_threshold, window=limits.lockout_window_ms,
                    base=limits.lockout_base_ms, longest=limits.lockout_max_ms, memory=limits.level_memory_ms,
                    ip_window=limits.ip_window_ms, ip_max=limits.ip_max if attempt.ip_tag else 0)
        reply = self._run(self.scripts.verify_code, keys, args)
        outcome, code_id, left, retry_ms, limit = reply[:5]
        return AttemptOutcome(VerifyOutcome(text(outcome)), text(code_id), int(left), int(retry_ms), text(limit),
                              lock_started=len(reply) > 5)

    @guard
    def record(self, phone_tag: str, code_id: str) -> CodeRecord | None:
        raw = self.client.hget(self.keys.codes(phone_tag), code_id)
        return _record(code_id, json.loads(raw)) if raw else None

    @guard
    def cancel(self, phone_tag: str, code_id: str, client: str, now_ms: int) -> str:
        keys = dict(codes=self.keys.codes(phone_tag), digest=self.keys.digest(phone_tag, client))
        return text(self.scripts.cancel_code(keys=keys, args=dict(id=code_id, client=client, now=now_ms)))

    @guard
    def record_delivery(self, phone_tag: str, code_id: str, report: DeliveryReport, now_ms: int, *,
                        carrier_ids: tuple[str, ...] = (), parts: int = 0) -> bool:
        """Apply a delivery event; False when the code is unknown or the event is stale."""
        args = dict(id=code_id, status=report.status.value, transport=report.transport, now=now_ms,
                    carrier_ids=",".join(carrier_ids), detail=report.detail, error_code=report.error_code,
                    parts=parts, part=report.carrier_id)
        keys = dict(codes=self.keys.codes(phone_tag), outbox=outbox_key(self.keys))
        return bool(self.scripts.record_delivery(keys=keys, args=args))


def _record(code_id: str, raw: dict[str, Any]) -> CodeRecord:
    delivery = Delivery(
        status=DeliveryStatus(raw.get("delivery_status", "queued")), transport=raw.get("transport", ""),
        updated_ms=int(raw.get("delivery_updated_at") or raw["created_at"]),
        carrier_ids=tuple(filter(None, str(raw.get("carrier_ids", "")).split(","))),
        detail=str(raw.get("delivery_detail", "")), parts=int(raw.get("parts") or 0),
        error_code=str(raw.get("error_code", "")))
    return CodeRecord(code_id=code_id, status=CodeStatus(raw["status"]), client=raw["client"],
                      attempts=int(raw["attempts"]), created_ms=int(raw["created_at"]),
                      expires_ms=int(raw["expires_at"]), delivery=delivery)
