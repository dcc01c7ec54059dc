"""Prometheus metrics, correct under several gunicorn workers.

When ``PROMETHEUS_MULTIPROC_DIR`` is set (the container image sets it), every process
writes its samples there and ``render`` merges them, so a scrape of any worker sees
the whole pod. Label values are outcomes, limit names and transport names only: never
a phone number, a code or an id.
"""
from __future__ import annotations

import functools
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

SENDS = Counter("otpgw_sends_total", "Send requests by outcome.", ["outcome"])
VERIFIES = Counter("otpgw_verifies_total", "Verify requests by outcome (the verify reason).", ["outcome"])
REFUSALS = Counter("otpgw_limit_refusals_total", "Requests refused by a limit, by limit name.", ["limit"])
NUMBER_TYPE_REFUSALS = Counter("otpgw_number_type_refusals_total",
                               "Sends refused for the number's type (premium_rate, fixed_line...).", ["number_type"])
LOCKOUTS = Counter("otpgw_lockouts_total", "Lockouts started, by scope (phone or user_ref).", ["scope"])
DELIVERIES = Counter("otpgw_deliveries_total", "Delivery outcomes by transport and status.", ["transport", "status"])
SEND_SECONDS = Histogram("otpgw_transport_send_seconds", "How long a transport took to accept or refuse a message.",
                         ["transport"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
FAILED_ATTEMPTS = Counter("otpgw_transport_failures_total", "Failed attempts by transport and reason (carrier code).",
                          ["transport", "reason"])
THROTTLED = Counter("otpgw_transport_throttled_total", "Throttling replies that paused a transport.", ["transport"])
GATE_SKIPS = Counter("otpgw_transport_skips_total", "Attempts that skipped a transport: paused, open breaker, "
                     "or no token of its rate yet.", ["transport", "reason"])
BREAKER = Gauge("otpgw_transport_breaker_open", "1 while a transport's circuit breaker is open.", ["transport"],
                multiprocess_mode="mostrecent")
RETRIES = Counter("otpgw_delivery_retries_total", "Failed attempts that will be tried again, by transport.",
                  ["transport"])
FAILOVERS = Counter("otpgw_delivery_failovers_total", "Failed attempts that moved on to the route's next transport.",
                    ["transport"])
REPORTS = Counter("otpgw_delivery_reports_total", "Delivery reports received, by transport and status.",
                  ["transport", "status"])
INBOUND = Counter("otpgw_inbound_messages_total", "Inbound SMS by transport and keyword (stop, start, none).",
                  ["transport", "keyword"])
LATENCY = Histogram("otpgw_request_duration_seconds", "HTTP request latency.", ["endpoint", "method", "status"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
QUEUE_DEPTH = Gauge("otpgw_queue_depth", "Messages waiting on a delivery lane (incl. retries).",
                    ["lane"], multiprocess_mode="mostrecent")
QUEUE_AGE = Gauge("otpgw_queue_oldest_age_seconds", "Age of the oldest message on a delivery lane.",
                  ["lane"], multiprocess_mode="mostrecent")


@functools.lru_cache(maxsize=1024)
def _child(metric, value: str):
    return metric.labels(value)


def count(metric, value: str) -> None:
    """Increment a one-label counter; children are bound once (labels() takes a lock)."""
    _child(metric, value).inc()


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def count_transport(metric, transport: str) -> None:
    _child(metric, transport).inc()


def observe_lanes(queue, lanes, now_ms: int) -> None:
    """Refresh the lane gauges from Redis (at scrape time)."""
    for lane in lanes:
        depth, oldest_ms = queue.stats(lane)
        QUEUE_DEPTH.labels(lane=lane).set(depth)
        QUEUE_AGE.labels(lane=lane).set(max(0.0, (now_ms - oldest_ms) / 1000) if oldest_ms else 0.0)
