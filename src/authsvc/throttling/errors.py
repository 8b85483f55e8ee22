"""Refusals of throttling: too many failures, or a caller over its rate."""

from __future__ import annotations

from authsvc.core.errors import RetryLater


class TooManyAttempts(RetryLater):
    code = "too_many_attempts"
    title = "Too many attempts"
    default_detail = "Too many failed attempts; wait before trying again."


RATE_EXCEEDED = "Rate limit exceeded; slow down."
