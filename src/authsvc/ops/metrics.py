"""Prometheus metrics. Labels are fixed vocabularies, never identifiers or secrets."""

from __future__ import annotations

from prometheus_client import Counter

AUTH_EVENTS = Counter(
    "authsvc_auth_events_total", "Authentication events by kind and outcome", ["event", "outcome"]
)
