"""Refusals of the readiness check."""

from __future__ import annotations

from authsvc.core.errors import AppError


class NotReady(AppError):
    status = 503
    code = "not_ready"
    title = "Not ready"
    default_detail = "The database is unreachable."
    SCHEMA_BEHIND = "The database schema is behind; run `authsvc migrate`."
