"""Audit events: one structured log record per send, verify outcome, lockout and release.

Records go to the ``otpgw.audit`` logger with their fields under ``extra["audit"]``;
the JSON formatter writes them out. A phone number is masked here, at the source, so
no handler or formatter can leak it; codes are never passed in.
"""
from __future__ import annotations

import logging
from typing import Any

from ..domain.phones import mask

log = logging.getLogger("otpgw.audit")


def audit(event: str, **fields: Any) -> None:
    if "phone" in fields:
        fields["phone"] = mask(fields["phone"])
    log.info(event, extra={"audit": {"event": event, **fields}})
