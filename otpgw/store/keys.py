"""Every Redis key otpgw uses, built by one function: ``prefix:{hash-tag}:kind``.

Keys of one phone share the phone's tag, so they land in one Redis Cluster slot: its
code records (one hash, so a script reaches the record of any of its codes through one
declared key), the live digest per API client, counters and locks. A send or a verify
also touches per-IP, per-user_ref and per-country counters and the lane, which no
per-phone tag can co-locate; so on Redis Cluster (``single_slot``) every key carries
the deployment's own tag and each script still runs whole on one node. Identities
inside keys are keyed HMAC tags (``domain.codes.identity_tag``): no phone number,
user_ref or IP appears in Redis.
"""
from __future__ import annotations

from dataclasses import dataclass

NONE = "none"  # the tag of a placeholder key: declared, never written


@dataclass(frozen=True)
class KeySpace:
    prefix: str = "otpgw"
    single_slot: bool = False

    def key(self, tag: str, kind: str) -> str:
        if self.single_slot:
            return f"{self.prefix}:{{{self.prefix}}}:{tag}:{kind}"
        return f"{self.prefix}:{{{tag}}}:{kind}"

    # -- per phone (tag from codes.identity_tag(..., "phone", e164)) ----------------------
    def codes(self, phone_tag: str) -> str:
        """Hash: code id -> JSON record, and ``latest:<client>`` -> that client's newest id."""
        return self.key(phone_tag, "codes")

    def purge(self, phone_tag: str) -> str:
        """Zset: code id -> when its record may be dropped (end of retention)."""
        return self.key(phone_tag, "purge")

    def digest(self, phone_tag: str, client: str) -> str:
        """``<id>:<hmac>`` of a client's one live code for this phone; expires with it."""
        return self.key(phone_tag, f"digest:{client}")

    def phone(self, phone_tag: str, kind: str) -> str:
        """kind: cooldown, sends, optout (shared by every client)."""
        return self.key(phone_tag, kind)

    def lockout(self, phone_tag: str, kind: str, client: str = "") -> str:
        """kind: lock, fails, level; per API client unless ``client`` is '' (a global scope)."""
        return self.key(phone_tag, f"{kind}:{client}" if client else kind)

    # -- other identities ----------------------------------------------------------------
    def user(self, user_tag: str, kind: str) -> str:
        """kind: lock, fails, level. An empty tag gives a placeholder, never written."""
        return self.key(f"u{user_tag or NONE}", kind)

    def factor(self, user_tag: str, kind: str) -> str:
        """A user_ref's authenticator factors, beside its lockout keys (one slot). kind:
        ``totp`` (hash: the active factor), ``totp:pending`` (hash: an enrolment awaiting
        its first code; expires), ``recovery`` (hash: ``c:<kid:digest>`` -> 0 or when used)."""
        return self.user(user_tag, f"factor:{kind}")

    def client_ip(self, ip_tag: str, kind: str) -> str:
        """kind: send, verify. An empty tag gives a placeholder, never written."""
        return self.key(f"ip{ip_tag or NONE}", kind)

    def country_day(self, country: str, day: str) -> str:
        return self.key(f"cc{country}", f"day:{day}")

    def prefix_day(self, prefix: str, day: str) -> str:
        return self.key(f"px{prefix.lstrip('+') or NONE}", f"day:{day}")

    # -- delivery ------------------------------------------------------------------------
    def lane(self, lane: str) -> str:
        """Stream of messages waiting on a lane (``otp``, ``bulk``, ``t.<transport>``)."""
        return self.key(f"q{lane}", "stream")

    def retries(self, lane: str) -> str:
        """Zset of a lane's messages waiting out a back-off, scored by due time (ms)."""
        return self.key(f"q{lane}", "retry")

    # -- messages (/messages) and inbound SMS ---------------------------------------------
    def batch(self, batch_id: str, kind: str) -> str:
        """A batch's keys, in one slot: ``meta`` (hash: settings, sealed text, counters),
        ``pending`` (list: its messages not yet on the bulk lane, in order, each the
        recipient's tag and sealed number), ``records`` (hash: position -> delivery record
        of a message that has left)."""
        return self.key(f"b{batch_id}", kind)

    def schedule(self) -> str:
        """Zset: batch id -> when its messages may go onto the bulk lane (ms)."""
        return self.key("schedule", "batches")

    def last_sender(self, phone_tag: str) -> str:
        """``<hook><client>`` of the client whose message last left for this phone: who a
        reply from it belongs to (with its webhook flag, 0 or 1)."""
        return self.key(phone_tag, "sender")

    def inbox(self, client: str) -> str:
        """Stream of the inbound SMS kept for a client (sealed), trimmed by age."""
        return self.key(f"cl{client}", "inbound")

    def client_recipients_day(self, client: str, day: str) -> str:
        """A client's count of message recipients for one UTC day."""
        return self.key(f"cl{client}", f"recipients:{day}")

    def batch_idempotency(self, tag: str) -> str:
        """The first batch sent under one (client, Idempotency-Key) tag (a placeholder without one)."""
        return self.key(f"i{tag or NONE}", "batch")
