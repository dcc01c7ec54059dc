"""The reference point: the least a Flask view can do and still run one EVALSHA.

``POST /evalsha`` with ``{"key": "..."}`` reads the JSON body, runs one registered
Lua script (INCR and PEXPIRE of that key) and answers a small JSON object. No auth,
schema, logging or metrics: this is the ceiling otpgw's send and verify are held to
("within 10 % of a minimal Flask app doing one EVALSHA").

Served by the same gunicorn settings as otpgw (``benchmarks/load.py`` does this):
``python -m gunicorn --config python:otpgw.gunicorn_conf benchmarks.minimal_app:application``
with ``OTPGW_REDIS_URL`` naming the Redis to use.
"""
from __future__ import annotations

import os

import redis
from flask import Flask, request

SCRIPT = """
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
"""

if "OTPGW_REDIS_URL" not in os.environ:
    raise RuntimeError("OTPGW_REDIS_URL must name the benchmark's own Redis (there is no default on purpose)")

application = Flask(__name__)
_client = redis.Redis.from_url(os.environ["OTPGW_REDIS_URL"], socket_timeout=0.5)
_count = _client.register_script(SCRIPT)


@application.post("/evalsha")
def evalsha():
    key = request.get_json()["key"]
    return {"key": key, "count": _count(keys=[f"minimal:{{{key}}}:n"], args=[60000])}
