"""Operator actions on one phone or user_ref: unlock, opt-out, opt-in."""
from __future__ import annotations

from .config import Settings
from .domain.codes import Tags
from .domain.phones import parse_phone
from .events.audit import audit
from .store import LockStore, Store


class Operator:
    def __init__(self, settings: Settings, locks: LockStore):
        self.settings = settings
        self.locks = locks
        self.tags = Tags(settings.secrets.tagging_key)

    @classmethod
    def connect(cls, settings: Settings) -> "Operator":
        return cls(settings, Store.connect(settings).locks)

    def _clients(self, client: str | None) -> tuple[str, ...]:
        """The API clients whose lockouts of a phone to release: the one named, else all."""
        if client:
            return (client,)
        return tuple(self.settings.clients) + ("dev", "anonymous")  # OTPGW_API_KEYS and [clients.*]

    def run(self, command: str, *, phone: str | None, user_ref: str | None, client: str | None) -> str:
        if command == "unlock" and user_ref:
            released = self.locks.release("user", self.tags.user(client or "anonymous", user_ref))
            audit("otp.release", scope="user_ref", client=client or "anonymous", was_locked=released)
            return "released" if released else "no lock was in force (failure count cleared)"
        e164 = parse_phone(phone or "", self.settings.numbers.default_region).e164
        tag = self.tags.phone(e164)
        if command == "unlock":
            released = self.locks.release("phone", tag, self._clients(client))
            audit("otp.release", scope="phone", phone=e164, was_locked=released)
            return "released" if released else "no lock was in force (failure count cleared)"
        self.locks.set_opt_out(tag, command == "opt-out")
        audit("otp." + command.replace("-", "_"), phone=e164)
        return "opted out" if command == "opt-out" else "opted in"
