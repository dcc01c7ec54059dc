"""What the gateway tests (/messages, /batches, /inbound) share: clients, numbers, steps.

``shop`` and ``news`` may send messages; the conftest's ``app`` client may not. Numbers
come from ``numbers(n)``: valid US mobile-or-fixed numbers, distinct, in a fixed order.
"""
from __future__ import annotations

import phonenumbers

from otpgw.delivery.worker import DeliveryWorker
from otpgw.domain.phones import parse_phone

SHOP_KEY = "shop-messages-key-0123456789"
NEWS_KEY = "news-messages-key-0123456789"
SHOP = {"Authorization": f"Bearer {SHOP_KEY}"}
NEWS = {"Authorization": f"Bearer {NEWS_KEY}"}
HOOK_SECRET = "whsec-gateway-0123456789abcdef"
TEXT = "Your parcel arrives tomorrow between 9 and 12."


def clients(webhook_url: str = "", **shop: object) -> dict:
    """``shop`` (with a webhook at ``webhook_url`` if given) and ``news``, both allowed to send messages."""
    hook = {"webhook_url": webhook_url, "webhook_secret": HOOK_SECRET} if webhook_url else {}
    return {"shop": {"keys": [SHOP_KEY], "messages_allowed": True, **hook, **shop},
            "news": {"keys": [NEWS_KEY], "messages_allowed": True}}


def numbers(count: int, start: int = 0, area: str = "415") -> list[str]:
    """``count`` distinct valid US numbers in E.164, the same ones for the same arguments."""
    found, subscriber = [], start
    while len(found) < count:
        candidate = f"+1{area}{200 + subscriber // 10_000:03d}{subscriber % 10_000:04d}"
        subscriber += 1
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            found.append(candidate)
    return found


def submit(client, to, text: str = TEXT, headers=None, **fields):
    return client.post("/messages", json={"to": to, "text": text, **fields}, headers=headers or SHOP)


def accepted(client, to, text: str = TEXT, headers=None, **fields) -> dict:
    """Submit and return the 202 answer."""
    reply = submit(client, to, text, headers, **fields)
    assert reply.status_code == 202, reply.get_json()
    return reply.get_json()


def batch(client, batch_id: str, headers=None, **query) -> dict:
    reply = client.get(f"/batches/{batch_id}", query_string=query, headers=headers or SHOP)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def message(client, message_id: str, headers=None) -> dict:
    reply = client.get(f"/messages/{message_id}", headers=headers or SHOP)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def drain(*workers: DeliveryWorker, passes: int = 200) -> None:
    """Run the workers until a pass finds nothing to do (or ``passes`` run out)."""
    for _ in range(passes):
        if not sum(worker.run_once(block_ms=5) for worker in workers):
            return


def e164(number: str) -> str:
    return parse_phone(number).e164


def opt_out(app, number: str, *, opted_out: bool = True) -> None:
    """What `otpgw opt-out` (or `opt-in`) does to ``number``."""
    from otpgw.admin import Operator

    operator = Operator(app.extensions["otpgw.settings"], app.extensions["otpgw.store"].locks)
    operator.run("opt-out" if opted_out else "opt-in", phone=number, user_ref=None, client=None)


def everything(redis_client) -> bytes:
    """Every key and every value in Redis, read by type (a DUMP may be compressed)."""
    parts = []
    for key in redis_client.scan_iter("*"):
        kind = redis_client.type(key).decode()
        parts.append(key)
        if kind == "string":
            parts.append(redis_client.get(key))
        elif kind == "hash":
            parts += [b for pair in redis_client.hgetall(key).items() for b in pair]
        elif kind == "list":
            parts += redis_client.lrange(key, 0, -1)
        elif kind == "zset":
            parts += redis_client.zrange(key, 0, -1)
        elif kind == "set":
            parts += list(redis_client.smembers(key))
        elif kind == "stream":
            parts += [b for _, fields in redis_client.xrange(key) for pair in fields.items() for b in pair]
    return b"\n".join(p for p in parts if p)
