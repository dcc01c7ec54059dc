"""Every Redis key otpgw uses, built by one function.

``prefix:{hash-tag}:kind``. Keys of one phone share the phone's tag, so they land in
one Redis Cluster slot. A send or a verify also touches per-IP, per-user_ref and
per-country counters and the transport stream, which no per-phone tag can co-locate;
so on Redis Cluster (``single_slot``) every key carries the deployment's own tag and
each script still runs whole on one node. Identities inside keys are keyed HMAC tags
(see ``codes.identity_tag``): no phone number, user_ref or IP appears in Redis.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpace:
    prefix: str = "otpgw"
    single_slot: bool = False

    def key(self, tag: str, kind: str) -> str:
        if self.single_slot:
            return f"{self.prefix}:{{{self.prefix}}}:{tag}:{kind}"
        return f"{self.prefix}:{{{tag}}}:{kind}"

    # Per phone (tag from codes.identity_tag(..., "phone", e164)).
    def record(self, phone_tag: str, code_id: str) -> str:
        return self.key(phone_tag, f"otp:{code_id}")

    def record_prefix(self, phone_tag: str) -> str:
        return self.key(phone_tag, "otp:")

    def digest(self, phone_tag: str, code_id: str) -> str:
        return self.key(phone_tag, f"digest:{code_id}")

    def digest_prefix(self, phone_tag: str) -> str:
        return self.key(phone_tag, "digest:")

    def phone(self, phone_tag: str, kind: str) -> str:
        """kind: lock, fails, level, cooldown, sends, optout (shared by every client)."""
        return self.key(phone_tag, kind)

    def newest(self, phone_tag: str, client: str) -> str:
        """The id of the newest code a client asked for this phone: one live code each."""
        return self.key(phone_tag, f"latest:{client}")

    def user(self, user_tag: str, kind: str) -> str:
        """kind: lock, fails, level."""
        return self.key(f"u{user_tag}", kind)

    def client_ip(self, ip_tag: str, kind: str) -> str:
        """kind: send, verify."""
        return self.key(f"ip{ip_tag}", kind)

    def country_day(self, country: str, day: str) -> str:
        return self.key(f"cc{country}", f"day:{day}")

    def prefix_day(self, prefix: str, day: str) -> str:
        return self.key(f"px{prefix.lstrip('+')}", f"day:{day}")

    def stream(self, transport: str) -> str:
        return self.key(f"q{transport}", "stream")

    def retries(self, transport: str) -> str:
        return self.key(f"q{transport}", "retry")
