"""Issue codes through the real store, for the verify benchmark.

``seed`` calls ``OtpService.send`` (so the send script runs exactly as under the API)
and reads every code back out of its sealed queued message, the way the delivery
worker would. Every code goes to a different phone, so no per-phone limit or lockout
of one code can touch another.

Benchmark settings (``BENCH_OVERRIDES``) move the per-IP, per-window and lockout
limits out of the way: they exist to stop abuse, and a load test is by design the
abuse they stop. Every limit is still *checked* by the scripts; none is reached.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import phonenumbers

from otpgw.otp.types import SendRequest

BENCH_CLIENT = "bench"
BENCH_API_KEY = "bench-api-key-0123456789abcdef"
BENCH_OVERRIDES: dict[str, Any] = {
    "ip_send_max": 0,  # no per-IP send limit (the load generator is one IP)
    "ip_verify_max": 0,
    "send_window_max": 1000,  # the highest config.py accepts
    "resend_cooldown": 0,
    "lockout_threshold": 1000,
    "max_attempts": 20,  # the highest config.py accepts
}

# Area codes with plenty of valid exchanges; index -> number is pure arithmetic, so
# two callers asking for disjoint index ranges never share a phone.
_AREAS = ("415", "650", "212", "646", "917", "310", "312", "617", "206", "303")
_PER_AREA = 800 * 10_000  # exchanges 200..999 x subscribers 0000..9999
SEND_PHASE_START = _PER_AREA * 5  # seeded codes use areas 0-4, the send phase 5-9


def us_phones(n: int, start: int = 0) -> list[str]:
    """``n`` distinct valid US numbers (checked with phonenumbers), from index ``start``."""
    return [p for _, p in zip(range(n), _valid_numbers(start))]


def _valid_numbers(index: int) -> Iterator[str]:
    while index < _PER_AREA * len(_AREAS):
        area, rest = divmod(index, _PER_AREA)
        exchange, subscriber = divmod(rest, 10_000)
        e164 = f"+1{_AREAS[area]}{200 + exchange}{subscriber:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            yield e164
        index += 1
    raise ValueError("ran out of benchmark phone numbers")


def seed(app_or_service: Any, n: int, phones: Iterable[str] | None = None,
         client: str = BENCH_CLIENT) -> list[tuple[str, str, str]]:
    """Send ``n`` codes for ``client`` and return ``(id, phone, code)`` for each.

    ``phones`` (at least ``n`` distinct numbers) defaults to ``us_phones(n)``.
    Raises RuntimeError if a send is refused: the benchmark settings should make
    that impossible, and a silent refusal would skew the verify mix.
    """
    service, store = _service(app_or_service)
    numbers = list(phones) if phones is not None else us_phones(n)
    if len(set(numbers[:n])) < n:
        raise ValueError(f"seed needs {n} distinct phones, got {len(set(numbers[:n]))}")
    after = lane_mark(app_or_service)
    issued = {service.send(SendRequest(phone=phone), client).code_id: phone for phone in numbers[:n]}
    codes = {code_id: code for code_id, _, code in issued_since(app_or_service, after, set(issued))}
    missing = set(issued) - set(codes)
    if missing:
        raise RuntimeError(f"{len(missing)} seeded codes have no queued message")
    return [(code_id, phone, codes[code_id]) for code_id, phone in issued.items()]


def lane_mark(app: Any) -> str:
    """Where the otp lane ends now: ``issued_since`` reads what was queued after it."""
    _, store = _service(app)
    return _last_entry(store.client, store.keys.lane("otp"))


def issued_since(app: Any, mark: str, wanted: set[str] | None = None) -> list[tuple[str, str, str]]:
    """``(id, phone, code)`` of every code queued after ``mark`` (or of the ``wanted`` ids),
    read from the sealed messages as the delivery worker would: the codes a load run's
    send phase issued can then be verified."""
    service, store = _service(app)
    return _read_codes(service, store, store.keys.lane("otp"), mark, wanted)


def _service(app: Any):
    """The app's code service and store."""
    return app.extensions["otpgw.service"], app.extensions["otpgw.store"]


def _last_entry(client, stream: str) -> str:
    last = client.xrevrange(stream, count=1)
    return last[0][0].decode() if last else "0-0"


def _read_codes(service, store, stream: str, after: str, wanted: set[str] | None) -> list[tuple[str, str, str]]:
    """Open the sealed messages queued after ``after`` (those of ``wanted`` ids only, if given)."""
    found: list[tuple[str, str, str]] = []
    start = "(" + after
    while True:
        page = store.client.xrange(stream, min=start, count=5000)
        if not page:
            return found
        for entry_id, fields in page:
            code_id = fields[b"id"].decode()
            if wanted is None or code_id in wanted:
                message = service.sealer.open(fields[b"sealed"])
                found.append((code_id, message["to"], _code_in(message["text"])))
        start = "(" + page[-1][0].decode()


def _code_in(text: str) -> str:
    """The code is the only run of 6 or more digits in the SMS text."""
    return next(tok for tok in text.replace(".", " ").replace(",", " ").split() if tok.isdigit() and len(tok) >= 6)
