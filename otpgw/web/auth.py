"""Who is calling: ``Authorization: Bearer <key>`` resolved to an API client.

The key is looked up by its hash in the client registry's in-process snapshot
(``otp.clients``), so authentication costs no Redis round trip and a dict lookup by a
hash of the key leaks nothing through timing. Missing or unknown keys get 401 in the
error envelope. An open API (dev mode, or ``OTPGW_ALLOW_UNAUTHENTICATED`` behind a
gateway, with no client key in the settings) lets a caller without a valid key in as
the client ``dev`` or ``anonymous``.

Views read ``g.client`` (the client's name: what its codes are bound to) and
``g.client_config`` (its settings).
"""
from __future__ import annotations

from flask import current_app, g, request

from ..errors import Unauthorized


def authenticate() -> None:
    """A blueprint's ``before_request``: set ``g.client`` and ``g.client_config``, or answer 401."""
    registry = current_app.extensions["otpgw.clients"]
    key = bearer_key()
    client = registry.authenticate(key) if key else None
    if client is None:
        if not registry.open:
            raise Unauthorized(details={"reason": "invalid_key" if key else "missing_key"})
        client = registry.default
    state = g._get_current_object()
    state.client, state.client_config = client.name, client


def bearer_key() -> str:
    """The key of an ``Authorization: Bearer <key>`` header, or ''."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""
