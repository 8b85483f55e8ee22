"""Refusals of the readiness check."""

from __future__ import annotations

from authsvc.core.errors import AppError


class NotReady(AppError):
    status = 503
    code = "not_ready"
    title = "Not ready"
    default_detail = "The database is unreachable."
    SCHEMA_BEHIND = "The database schema is behind; run `authsvc migrate`."
    DRAINING = "Shutting down: still serving, but out of rotation (AUTHSVC_SHUTDOWN_DRAIN)."


class MetricsTokenRequired(AppError):
    status = 401
    code = "metrics_token_required"
    title = "A metrics token is required"
    default_detail = "Send the metrics token as `Authorization: Bearer <token>`."
    challenge = 'Bearer realm="metrics"'


class MetricsClosed(AppError):
    status = 403
    code = "metrics_closed"
    title = "Metrics are closed"
    default_detail = "Outside dev mode /metrics needs AUTHSVC_METRICS_TOKEN to be set."
