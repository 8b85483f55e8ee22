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


# What every LogRecord carries by itself: times, thread and process ids, whose long runs
# of digits a random six-digit code would match now and then.
_RECORD_BOOKKEEPING = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def logged_text(records: list[logging.LogRecord]) -> str:
    """What captured records say: each message with its arguments and the fields passed
    along with it (`extra`), without LogRecord's bookkeeping."""
    return "\n".join(
        f"{record.getMessage()} {record.args} "
        + repr({k: v for k, v in vars(record).items() if k not in _RECORD_BOOKKEEPING})
        for record in records
    )


def auth_events(records: list[logging.LogRecord], event: str) -> list[logging.LogRecord]:
    """The records of one auth event (ops.events.auth_event) among captured ones."""
    return [
        record
        for record in records
        if record.name == "authsvc.events" and getattr(record, "event", None) == event
    ]
