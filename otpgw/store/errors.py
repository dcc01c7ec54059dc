"""Redis errors mapped, where they enter, to the most specific otpgw error.

- The store cannot be reached or refused the command (connection refused, a replica that
  is read-only after a fail-over, a server still loading or out of memory): 503
  ``unavailable`` with ``details.outcome = "not_applied"``: nothing happened, a retry is
  safe. The service fails closed: never an approval, never an unmetered SMS.
- The command was sent but no answer came (a read timeout, a connection lost mid-reply):
  503 with ``details.outcome = "unknown"``: the script may have run. A caller retries a
  send with the same ``Idempotency-Key``, and reads a verify's fate from ``GET /otp/<id>``.
- Redis answered with an error (a Lua bug, WRONGTYPE, a wrong number of arguments):
  that is our fault, not an outage. It becomes ``StoreError``, a 500 whose message is
  logged in full (it names no phone or code: keys hold only tags), so it is found and
  fixed instead of hiding behind "unavailable".
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

import redis

from ..errors import StoreError, StoreUnavailable

log = logging.getLogger("otpgw.store")
T = TypeVar("T")

# Redis refused the command itself: it did not run.
_REFUSED = (redis.exceptions.BusyLoadingError, redis.exceptions.ReadOnlyError, redis.exceptions.ClusterDownError,
            redis.exceptions.TryAgainError, redis.exceptions.MasterDownError, redis.exceptions.OutOfMemoryError,
            redis.exceptions.SlotNotCoveredError)
# The connection failed: before the command was written ("connecting to"), or after.
_LOST = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _outcome(exc: Exception) -> str:
    """'not_applied' when Redis never received or refused the command, else 'unknown'."""
    if isinstance(exc, _REFUSED) or "connecting to" in str(exc) or "Connection refused" in str(exc):
        return "not_applied"
    return "unknown"


def guard(method: Callable[..., T]) -> Callable[..., T]:
    """Map every Redis failure of ``method`` to StoreUnavailable or StoreError."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except (*_REFUSED, *_LOST) as exc:
            outcome = _outcome(exc)
            log.warning("redis unavailable: %s (outcome %s)", type(exc).__name__, outcome)
            raise StoreUnavailable(outcome) from exc
        except redis.exceptions.RedisError as exc:
            log.error("redis error in %s: %s: %s", method.__qualname__, type(exc).__name__, exc)
            raise StoreError(f"{type(exc).__name__}: {exc}") from exc

    return wrapper
