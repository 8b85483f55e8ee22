"""Small helpers shared by tests of every domain."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrong(code: str) -> str:
    """A six-digit code that is certainly not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def without_request_id(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers but X-Request-ID, which every response has a fresh one of."""
    return {k: v for k, v in headers.items() if k.lower() != "x-request-id"}


def auth_events(records: list[logging.LogRecord], event: str) -> list[logging.LogRecord]:
    """The records of one auth event (ops.events.auth_event) among captured ones."""
    return [
        record
        for record in records
        if record.name == "authsvc.events" and getattr(record, "event", None) == event
    ]
