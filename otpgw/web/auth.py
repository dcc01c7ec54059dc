"""Who is calling: ``Authorization: Bearer <key>`` resolved to an API client name.

Keys are compared in constant time. Without configured keys the API is open (dev mode,
or behind a gateway that authenticates: ``OTPGW_ALLOW_UNAUTHENTICATED``) and the caller
is the client ``dev`` or ``anonymous``.
"""
from __future__ import annotations

import hmac

from flask import current_app, g, request

from ..errors import Unauthorized


def authenticate() -> None:
    """A blueprint's ``before_request``: set ``g.client`` or answer 401."""
    settings = current_app.extensions["otpgw.settings"]
    if not settings.api.keys:
        g.client = "dev" if settings.dev else "anonymous"
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given:
        candidate = given.strip().encode()
        for name, key in settings.api.keys:
            if hmac.compare_digest(candidate, key.encode()):
                g.client = name
                return
    raise Unauthorized()
