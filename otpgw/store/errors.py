"""Redis errors mapped, where they enter, to the most specific otpgw error.

- The store cannot be reached or did not answer in time (connection refused, timeout, a
  replica that is read-only after a fail-over, a server still loading): 503
  ``unavailable``. The service fails closed: never an approval, never an unmetered SMS.
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

_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError,
            redis.exceptions.ReadOnlyError, redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
            redis.exceptions.MasterDownError, redis.exceptions.OutOfMemoryError,
            redis.exceptions.SlotNotCoveredError)


def guard(method: Callable[..., T]) -> Callable[..., T]:
    """Map every Redis failure of ``method`` to StoreUnavailable or StoreError."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except _OUTAGES as exc:
            log.warning("redis unavailable: %s", type(exc).__name__)
            raise StoreUnavailable() from exc
        except redis.exceptions.RedisError as exc:
            log.error("redis error in %s: %s: %s", method.__qualname__, type(exc).__name__, exc)
            raise StoreError(f"{type(exc).__name__}: {exc}") from exc

    return wrapper
