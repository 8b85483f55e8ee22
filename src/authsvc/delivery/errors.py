"""Delivery failures, as the adapters report them to the worker (never shown to clients)."""

from __future__ import annotations


class DeliveryError(Exception):
    """A send failed.

    `reason` is a short token safe for logs and metrics (`http_503`, `smtp_550`,
    `timeout`); `detail` is the provider's own message, kept as the message's last error
    but never logged, since providers may echo what they were sent.
    """

    def __init__(self, reason: str, *, permanent: bool, detail: str = "") -> None:
        self.reason = reason
        self.permanent = permanent
        self.detail = " ".join(detail.split())[:300]
        super().__init__(f"{reason}: {self.detail}" if self.detail else reason)


class SealError(Exception):
    """Sealed parameters could not be opened (key rotated away, or tampered with)."""
