"""A graceful stop behind a load balancer: on SIGTERM, readiness turns 503 first.

A balancer learns that a replica is going only from its health checks. uvicorn, given
SIGTERM, closes its listening socket at once: requests the balancer still sends meet a
closed port (a POST is then not retried). So `authsvc serve` first *drains*: for
AUTHSVC_SHUTDOWN_DRAIN `/readyz` answers 503 while every request is still served, the
balancer's checks take the replica out of rotation, and only then does uvicorn's own
graceful shutdown finish the requests in flight and exit. SIGINT (Ctrl-C) stops at once.

One process: `DrainingServer`. With `--workers N`: `DrainingSupervisor`, which gets the
signal, creates the marker file the workers look for (ops/drain.py), and stops the
workers after the drain, each then shutting down as uvicorn does.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from socket import socket
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from authsvc.ops import drain as drain_state


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with SIGTERM held back for `drain` seconds of readiness 503."""

    def __init__(self, config: uvicorn.Config, *, drain: float) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_ends: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: only flags here; on_tick (every 0.1 s) logs and ends the drain.
        if sig != signal.SIGTERM or self._drain <= 0 or self._drain_ends is not None:
            # SIGINT, no drain, or a second SIGTERM (impatience): uvicorn's stop, now.
            super().handle_exit(sig, frame)
            return
        drain_state.begin()
        self._drain_ends = time.monotonic() + self._drain

    async def on_tick(self, counter: int) -> bool:
        if self._drain_ends is not None and not self.should_exit:
            if not self._announced:
                self._announced = True
                drain_state.announce(self._drain)
            if time.monotonic() >= self._drain_ends:
                super().handle_exit(signal.SIGTERM, None)  # re-raised after the shutdown
        return await super().on_tick(counter)


class DrainingSupervisor(Multiprocess):
    """uvicorn's supervisor of `--workers N`: on SIGTERM the marker file first, the
    workers' SIGTERM after the drain (their own servers then stop without one)."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket], *, drain: float, marker: Path
    ) -> None:
        super().__init__(config, sockets)
        self._drain = drain
        self._marker = marker
        self._timer: threading.Timer | None = None

    def handle_term(self) -> None:
        if self._drain <= 0 or self._timer is not None:
            super().handle_term()
            return
        self._marker.touch()
        drain_state.announce(self._drain)
        self._timer = threading.Timer(self._drain, super().handle_term)
        self._timer.daemon = True
        self._timer.start()

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self._timer is not None:
                self._timer.cancel()
