"""Auth events for operators: UTC time (from the log formatter), account, IP, outcome.

Never a code, password or token: callers pass only identifiers.
"""

from __future__ import annotations

import logging

from authsvc.ops.metrics import AUTH_EVENTS

log = logging.getLogger("authsvc.events")


def auth_event(
    event: str, *, outcome: str, ip: str, account: object = None, **fields: object
) -> None:
    AUTH_EVENTS.labels(event=event, outcome=outcome).inc()
    details = " ".join(f"{key}={value}" for key, value in fields.items())
    log.info(
        "event=%s outcome=%s account=%s ip=%s%s",
        event,
        outcome,
        account if account is not None else "-",
        ip,
        f" {details}" if details else "",
    )
