"""Auth events: one documented name each (docs/operations.md, "Logs and metrics"), logged with UTC
time, request id, account, IP and user agent, and counted by name and outcome.

Never a code, password, token or key: callers pass only identifiers.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from authsvc.ops.metrics import AUTH_EVENTS

log = logging.getLogger("authsvc.events")

# Set by the web layer for the duration of a request: the client IP of an event raised
# where the request is out of sight (the argon2 pool's `overloaded`). Callers that know
# the client pass `ip=` themselves.
CLIENT_IP: ContextVar[str | None] = ContextVar("authsvc_client_ip", default=None)


def auth_event(
    event: str,
    *,
    outcome: str,
    ip: str | None = None,
    account: object = None,
    user_agent: str | None = None,
    level: int = logging.INFO,
    **fields: object,
) -> None:
    AUTH_EVENTS.labels(event=event, outcome=outcome).inc()
    ip = ip or CLIENT_IP.get()
    details = "".join(f" {key}={value}" for key, value in fields.items())
    log.log(
        level,
        "event=%s outcome=%s account=%s ip=%s%s",
        event,
        outcome,
        account if account is not None else "-",
        ip or "-",
        details,
        extra={
            "event": event,
            "outcome": outcome,
            "account": str(account) if account is not None else None,
            "ip": ip,
            "user_agent": user_agent[:200] if user_agent else None,
            **fields,
        },
    )
