"""Whether this process is draining: told to stop, still serving, no longer ready.

Set by the servers of `authsvc serve` (ops/serving.py) on SIGTERM; read by /readyz. With
`--workers N` the supervisor gets the signal, so it creates a marker file that every
worker process looks for, named by DRAIN_FILE_ENV in their environment.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("authsvc.shutdown")

DRAIN_FILE_ENV = "_AUTHSVC_DRAIN_FILE"  # not a setting: from `serve` to its workers
EVENT = "shutdown_draining"

_draining = False


def is_draining() -> bool:
    """True once this process (or, with workers, its supervisor) got SIGTERM."""
    if _draining:
        return True
    marker = os.environ.get(DRAIN_FILE_ENV)
    return marker is not None and os.path.exists(marker)


def begin() -> None:
    """Readiness 503 from now on. Only a flag: this runs in a signal handler."""
    global _draining
    _draining = True


def announce(seconds: float) -> None:
    """The log event that says a stop began with a drain."""
    log.info(
        "shutdown draining: /readyz answers 503, requests are still served for %.1fs",
        seconds,
        extra={"event": EVENT, "outcome": "draining", "drain_seconds": seconds},
    )
