"""Policy that needs no state: which numbers may receive a code, and the limits that apply.

The limits are built here and handed to the store with each call, so the store applies
whatever the caller decided (per deployment today; per API client when clients have
their own limits) and never reads the settings itself.
"""
from __future__ import annotations

from dataclasses import replace

from ..config import Settings
from ..domain.addresses import client_network
from ..domain.phones import Phone
from ..domain.records import SendLimits, VerifyLimits
from ..errors import CountryNotAllowed, InvalidPhone
from ..events import metrics


class Policy:
    def __init__(self, settings: Settings):
        self.numbers = settings.numbers
        self.number_types = settings.numbers.number_types
        self._ipv4_prefix, self._ipv6_prefix = settings.limits.ipv4_prefix, settings.limits.ipv6_prefix
        limits, codes, lockout = settings.limits, settings.codes, settings.lockout
        self._send = SendLimits(
            cooldown_ms=limits.resend_cooldown * 1000, window_ms=limits.send_window * 1000,
            window_max=limits.send_window_max, ip_window_ms=limits.ip_window * 1000, ip_max=limits.ip_send_max,
            country_cap=0, prefix_cap=0, retention_ms=codes.retention * 1000,
            lockout_per_client=lockout.scope == "client")
        self._verify = VerifyLimits(
            max_attempts=codes.max_attempts, lockout_threshold=lockout.threshold,
            lockout_window_ms=lockout.window * 1000, lockout_base_ms=lockout.base * 1000,
            lockout_max_ms=lockout.max * 1000, ip_window_ms=limits.ip_window * 1000, ip_max=limits.ip_verify_max,
            lockout_per_client=lockout.scope == "client")

    def admit(self, phone: Phone) -> Phone:
        """The country allow-list and the number types that may receive a code; raises
        the error the API answers with. Premium-rate, shared-cost, toll-free, pager, UAN,
        personal and voicemail numbers are the targets of SMS pumping: refused unless allowed."""
        allowed = self.numbers.allowed_countries
        if allowed and phone.country not in allowed:
            raise CountryNotAllowed(f"sending to {phone.country} is not allowed", details={"country": phone.country})
        if phone.number_type not in self.number_types:
            metrics.count(metrics.NUMBER_TYPE_REFUSALS, phone.number_type)
            if phone.is_landline:
                raise InvalidPhone("landline numbers cannot receive SMS codes",
                                   details={"reason": "landline", "number_type": phone.number_type})
            raise InvalidPhone(f"{phone.number_type.replace('_', ' ')} numbers cannot receive codes",
                               details={"reason": "number_type", "number_type": phone.number_type})
        return phone

    def send_limits(self, phone: Phone) -> tuple[SendLimits, str]:
        """The limits of a send to ``phone``, and the number prefix its daily cap counts under."""
        prefix, prefix_cap = self.numbers.prefix_limit_for(phone.e164)
        country_cap = self.numbers.daily_limit_for(phone.country)
        return replace(self._send, country_cap=country_cap, prefix_cap=prefix_cap), prefix

    def verify_limits(self) -> VerifyLimits:
        return self._verify

    def client_network(self, client_ip: str | None) -> str | None:
        """The network a client IP is counted under (see ``domain.addresses``)."""
        return client_network(client_ip, self._ipv4_prefix, self._ipv6_prefix) if client_ip else None
