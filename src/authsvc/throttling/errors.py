"""Refusals of throttling: too many failures, or a caller over its rate."""

from __future__ import annotations

from authsvc.core.errors import RetryLater


class TooManyAttempts(RetryLater):
    code = "too_many_attempts"
    title = "Too many attempts"
    default_detail = "Too many failed attempts; wait before trying again."
    RATE_EXCEEDED = "Rate limit exceeded; slow down."

    @classmethod
    def over_rate(cls, retry_after: int) -> TooManyAttempts:
        """The refusal of a caller over a fixed-window rate (not a failure back-off)."""
        return cls(cls.RATE_EXCEEDED, retry_after=retry_after)
