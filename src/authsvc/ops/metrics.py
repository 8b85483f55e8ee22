"""Prometheus metrics. Labels are fixed vocabularies (and the names operators give support
keys, a handful), never identifiers of customers or requests, never secrets.

With `authsvc serve --workers N` each worker process writes its samples to files in
PROMETHEUS_MULTIPROC_DIR (set by `serve` before the workers start) and /metrics adds
them up, so every scrape reports the same totals whichever worker answers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

AUTH_EVENTS = Counter(
    "authsvc_auth_events_total", "Authentication events by name and outcome", ["event", "outcome"]
)
# Every call with a live support key, by the key's name and the audit's result: names are
# the few an operator creates, so the labels stay bounded; the alert on guessing reads it.
SUPPORT_VERIFICATIONS = Counter(
    "authsvc_support_verifications_total",
    "Support verifications by key name and result (valid, mismatch, ..., invalid_request)",
    ["key", "result"],
)
SIGN_INS = Counter(
    "authsvc_sign_ins_total",
    "Completed sign-ins by the step that finished them (email, sms, totp, passkey, recovery_code)",
    ["factor"],
)
HTTP_DURATION = Histogram(
    "authsvc_http_request_duration_seconds",
    "HTTP requests by route template, method and status class",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PROBLEMS = Counter(
    "authsvc_http_problems_total", "Problem answers by status and code", ["status", "code"]
)
ARGON2_RUNNING = Gauge(
    "authsvc_argon2_running", "argon2 computations on a thread now", multiprocess_mode="livesum"
)
ARGON2_WAITING = Gauge(
    "authsvc_argon2_waiting",
    "argon2 computations waiting for a thread",
    multiprocess_mode="livesum",
)
ARGON2_SHED = Counter(
    "authsvc_argon2_shed_total", "argon2 computations refused with 503 overloaded (full queue)"
)
OUTBOX_MESSAGES = Gauge(
    "authsvc_outbox_messages",
    "Outbox messages by channel and state, read at scrape time",
    ["channel", "state"],
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_QUEUED = Gauge(
    "authsvc_outbox_oldest_queued_age_seconds",
    "Age of the oldest message due and not yet sent, read at scrape time (0 when none)",
    multiprocess_mode="mostrecent",
)
DELIVERY_ATTEMPTS = Counter(
    "authsvc_delivery_attempts_total",
    "Delivery attempts by channel, provider and result (sent, retry, abandoned)",
    ["channel", "provider", "result"],
)
DELIVERY_LATENCY = Histogram(
    "authsvc_delivery_latency_seconds",
    "From a message being due to its being handed to the provider",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
SMS_SENT = Counter(
    "authsvc_sms_sent_total",
    "SMS handed to the gateway, by the number's country (ISO 3166; counted by the worker "
    "when the gateway accepts it)",
    ["country"],
)
SMS_BUDGET_REFUSALS = Counter(
    "authsvc_sms_budget_refusals_total",
    "Codes sent by e-mail because an SMS budget of the hour was spent, by the budget "
    "(service, country, prefix, number, ip)",
    ["budget"],
)
DB_POOL_IN_USE = Gauge(
    "authsvc_db_pool_connections_in_use",
    "Database connections checked out of the pool, read at scrape time",
    multiprocess_mode="livesum",
)


def render() -> bytes:
    """The exposition text: this process's registry, or every worker's when multiprocess."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (its counters stay in the totals)."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
