"""Back-off between delivery attempts: pure, time passed in.

The n-th retry (n >= 1) waits ``base * 2**(n-1)`` seconds, scaled by a random factor in
[1 - jitter, 1] so that workers that failed together do not retry together. A wait is
never allowed past the message's deadline: the caller fails a message whose next try
would come too late, because an expired code must never be delivered.
"""
from __future__ import annotations

import random


def backoff_ms(retry: int, base_s: float, *, jitter: float = 0.2, rng: random.Random | None = None) -> int:
    """Milliseconds to wait before retry number ``retry`` (1 = the first retry)."""
    wait = base_s * 1000 * 2 ** max(0, retry - 1)
    return int(wait * (1 - jitter * (rng or random).random()))


def pause_ms(retry_after_s: float | None, retry: int, base_s: float) -> int:
    """How long to wait after a throttling reply: what the carrier asked, else the back-off."""
    if retry_after_s is not None and retry_after_s > 0:
        return int(retry_after_s * 1000)
    return backoff_ms(retry, base_s)
