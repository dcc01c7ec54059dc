"""Build the Redis client the settings describe: URL, Sentinel, Cluster, or embedded.

The embedded store (fakeredis, dev mode only) lets a newcomer run otpgw with no
server at all; it lives in the process and is lost when the process exits.
"""
from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..config import Settings


def connect(settings: Settings, *, embedded: bool = False, blocking_ms: int = 0) -> redis.Redis:
    """A client with short timeouts and no silent retries, so an outage is a fast 503.

    ``blocking_ms``: the longest blocking command this client will send (a worker's
    XREADGROUP BLOCK); its read timeout is extended by that much so a quiet queue is
    not mistaken for an outage.
    """
    if embedded:
        import fakeredis

        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    r = settings.redis
    common = dict(
        socket_timeout=r.timeout + blocking_ms / 1000,
        socket_connect_timeout=r.timeout,
        username=r.username or None,
        password=r.password or None,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
    if r.sentinels:
        from redis.sentinel import Sentinel

        nodes = [_host_port(s) for s in r.sentinels]
        sentinel = Sentinel(nodes, sentinel_kwargs={"socket_timeout": r.timeout}, **common)
        return sentinel.master_for(r.sentinel_master)
    if r.cluster:
        from redis.cluster import RedisCluster

        common.pop("health_check_interval")
        return RedisCluster.from_url(r.url, **common)
    return redis.Redis.from_url(r.url, **common)


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    return (host, int(port)) if sep else (value, 26379)
