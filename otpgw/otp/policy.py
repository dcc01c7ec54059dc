"""Policy that needs no state: which numbers may receive a code, and the limits that apply.

The limits are built here and handed to the store with each call, so the store applies
whatever the caller decided and never reads the settings itself. An API client's own
limits replace the deployment's (``config.clients`` has already checked that each is
only tighter) and its country list narrows the deployment's.
"""
from __future__ import annotations

import functools
from dataclasses import replace

from ..config import ClientConfig, Settings
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

    def admit(self, phone: Phone, client: ClientConfig | None = None) -> Phone:
        """The country allow-lists (the deployment's, then the client's) and the number types
        that may receive a code; raises the error the API answers with. Premium-rate,
        shared-cost, toll-free, pager, UAN, personal and voicemail numbers are the targets
        of SMS pumping: refused unless allowed."""
        for allowed in (self.numbers.allowed_countries, client.allowed_countries if client else ()):
            if allowed and phone.country not in allowed:
                raise CountryNotAllowed(f"sending to {phone.country} is not allowed",
                                        details={"country": phone.country})
        if phone.number_type not in self.number_types:
            metrics.count(metrics.NUMBER_TYPE_REFUSALS, phone.number_type)
            if phone.is_landline:
                raise InvalidPhone("landline numbers cannot receive SMS codes",
                                   details={"reason": "landline", "number_type": phone.number_type})
            raise InvalidPhone(f"{phone.number_type.replace('_', ' ')} numbers cannot receive codes",
                               details={"reason": "number_type", "number_type": phone.number_type})
        return phone

    def send_limits(self, phone: Phone, client: ClientConfig | None = None) -> tuple[SendLimits, str]:
        """The limits of a send to ``phone``, and the number prefix its daily cap counts under."""
        prefix, prefix_cap = self.numbers.prefix_limit_for(phone.e164)
        country_cap = self.numbers.daily_limit_for(phone.country)
        base = self._for_client(client)[0] if client else self._send
        return self._with_caps(base, country_cap, prefix_cap), prefix

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one Policy per process; a few caps per client)
    def _with_caps(self, base: SendLimits, country_cap: int, prefix_cap: int) -> SendLimits:
        return replace(base, country_cap=country_cap, prefix_cap=prefix_cap)

    def verify_limits(self, client: ClientConfig | None = None) -> VerifyLimits:
        return self._for_client(client)[1] if client else self._verify

    @functools.lru_cache(maxsize=1024)  # noqa: B019 (one Policy per process; clients are few)
    def _for_client(self, client: ClientConfig) -> tuple[SendLimits, VerifyLimits]:
        """The deployment's limits with the client's own in their place."""
        own = client.limits

        def pick(value: int | None, default: int) -> int:
            return default if value is None else value

        send = replace(self._send, cooldown_ms=pick(own.resend_cooldown, self._send.cooldown_ms // 1000) * 1000,
                       window_max=pick(own.send_window_max, self._send.window_max),
                       ip_max=pick(own.ip_send_max, self._send.ip_max), client_cap=own.daily_limit)
        verify = replace(self._verify, max_attempts=pick(own.max_attempts, self._verify.max_attempts),
                         lockout_threshold=pick(own.lockout_threshold, self._verify.lockout_threshold),
                         ip_max=pick(own.ip_verify_max, self._verify.ip_max))
        return send, verify

    def client_network(self, client_ip: str | None) -> str | None:
        """The network a client IP is counted under (see ``domain.addresses``)."""
        return client_network(client_ip, self._ipv4_prefix, self._ipv6_prefix) if client_ip else None
