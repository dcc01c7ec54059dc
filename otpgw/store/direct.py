"""EVALSHA for the request path without redis-py's per-command machinery.

``/otp/send`` and ``/otp/verify`` are one script each. Through ``redis.Redis`` a command
costs ~60 µs of client CPU beyond the round trip under gevent (redis-py 8): the pool's
checkout polls the socket with a fresh gevent ``poll`` object, then retry, observability
and deprecation wrappers run, and the arguments are type-checked one by one in Python.
``DirectScripts`` keeps connections of its own, built from the client's pool settings
(same address, credentials, timeouts, retry policy and health-check interval), packs
the EVALSHA with hiredis and sends it.

A caller sees what a redis-py call would give: the same replies and the same exception
classes (the connection raises them), a connection that fails mid-command is closed
(the next use reconnects), a pooled connection that the server closed or that holds
unread data is replaced before use (a zero-timeout ``poll``, as redis-py's checkout
does, but the OS's own rather than gevent's), an idle connection is PINGed first after
``health_check_interval``, and NOSCRIPT loads the script and runs it again. Only a plain
``redis.Redis`` on a plain ``ConnectionPool`` gets this path (``for_client``); Sentinel,
Cluster and the embedded store keep redis-py's.
"""
from __future__ import annotations

import functools
import os
import select
from typing import Any, Mapping

import redis

from .scripts import Script, ScriptCallError

try:  # a dependency of otpgw; fall back to redis-py's packer if it ever lacks pack_command
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover
    _hiredis_pack = None


class DirectScripts:
    """Scripts called on connections of our own (see the module docstring)."""

    def __init__(self, client: redis.Redis):
        pool = client.connection_pool
        self._connect = functools.partial(pool.connection_class, **pool.connection_kwargs)
        self._idle: list[Any] = []  # list.pop/append are atomic: safe for greenlets and threads
        self._pid = os.getpid()
        self._poll = _os_poll()

    @classmethod
    def for_client(cls, client: Any) -> "DirectScripts | None":
        """A direct path for a plain client, else None (use the script's own call)."""
        pool = getattr(client, "connection_pool", None)
        if type(client) is not redis.Redis or type(pool) is not redis.ConnectionPool:
            return None
        if client.connection is not None or pool.cache is not None:  # single connection, client-side cache
            return None
        return cls(client)

    def __call__(self, script: Script, *, keys: Mapping[str, str], args: Mapping[str, Any]) -> Any:
        command = ("EVALSHA", script.sha, len(keys), *ordered(script, "KEYS", keys), *ordered(script, "ARGV", args))
        conn = self._checkout()
        try:
            packed = [_hiredis_pack(command)] if _hiredis_pack else conn.pack_command(*command)
            conn.send_packed_command(packed)
            try:
                reply = conn.read_response()
            except redis.exceptions.NoScriptError:  # a restarted or failed-over Redis: load it, run again
                conn.send_command("SCRIPT", "LOAD", script.source)
                conn.read_response()
                conn.send_packed_command(packed)
                reply = conn.read_response()
        except redis.exceptions.ResponseError:
            self._idle.append(conn)  # Redis answered (a script error): the connection is fine
            raise
        except BaseException:
            conn.disconnect()  # the reply may still be in flight: never reuse this socket as it is
            self._idle.append(conn)
            raise
        self._idle.append(conn)
        return reply

    def _checkout(self) -> Any:
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours
            self._idle, self._pid = [], os.getpid()
        try:
            conn = self._idle.pop()
        except IndexError:
            return self._connect()
        sock = getattr(conn, "_sock", None)
        if sock is not None and self._readable(sock):  # closed by the server (a restart), or dirty
            conn.disconnect()  # send_packed_command reconnects
        return conn

    def _readable(self, sock: Any) -> bool:
        poller = self._poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.disconnect()


def _os_poll() -> Any:
    """``select.poll`` as the OS gives it. gevent's monkey-patched one builds watchers on
    the hub (~25 µs); a zero-timeout poll never blocks, so the original is the right one."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover (gevent is a dependency)
        return select.poll
    return monkey.get_original("select", "poll") if monkey.is_module_patched("select") else select.poll


def ordered(script: Script, what: str, given: Mapping[str, Any]) -> list[Any]:
    """The values of ``given`` in the order of the script's header (booleans as 1/0),
    refusing a missing or unknown name as ``Script`` does."""
    names = script.header.keys if what == "KEYS" else script.header.args
    try:
        values = [given[name] for name in names]
    except KeyError:
        values = None
    if values is None or len(given) != len(names):
        missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
        raise ScriptCallError(f"{script.name}.lua {what}: missing {missing}, unknown {extra}")
    return [int(v) if v.__class__ is bool else v for v in values]
