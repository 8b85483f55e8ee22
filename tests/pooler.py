"""A real PgBouncer (Debian's `pgbouncer`) in transaction pooling mode, for tests.

`AUTHSVC_TEST_POOLER=pgbouncer` makes the suite's service context (`base_ctx`) reach its
scratch database through one, with `AUTHSVC_DATABASE_POOLER=transaction` and the direct
URL beside it, so any test module can be run through PgBouncer; tests/test_pgbouncer.py
always does for a few. Without the binary those tests skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

BINARY = shutil.which("pgbouncer") or next(
    (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(path)),
    None,
)
MISSING = "pgbouncer is not installed (Debian: apt-get install pgbouncer)"
# Few server connections, so that clients really share them and a statement that relied
# on its session (a named prepared statement, a LISTEN) would meet another client's.
POOL_SIZE = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    """pgbouncer in a temporary folder, on a free port, in front of the PostgreSQL
    server of `server_url`; `url(database_url)` is that database through it."""

    def __init__(self, server_url: str, *, pool_size: int = POOL_SIZE) -> None:
        if BINARY is None:
            raise RuntimeError(MISSING)
        server = make_url(server_url)
        host = server.query.get("host") or server.host or "127.0.0.1"
        port = server.query.get("port") or server.port or 5432
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="authsvc-pgbouncer-"))
        self.dir.chmod(0o755)  # run as root, pgbouncer drops to another user, who reads these
        # As root it must drop to a user: `nobody`, or for a server on a Unix socket (the
        # embedded one) the socket directory's owner, the one user sure to reach it.
        socket_dir = Path(str(host))
        self.user = socket_dir.owner() if socket_dir.is_dir() else "nobody"
        user = server.username or "postgres"
        target = f"host={host} port={port} user={user}"
        if server.password:
            target += f" password={server.password}"
        (self.dir / "users.txt").write_text(f'"{user}" ""\n')
        self.log = self.dir / "pgbouncer.log"
        self.log.touch()
        self.log.chmod(0o666)
        (self.dir / "pgbouncer.ini").write_text(
            f"""[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {self.log}
"""
        )
        for name in ("users.txt", "pgbouncer.ini"):
            (self.dir / name).chmod(0o644)
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """`database_url`'s database, user and password, through this PgBouncer."""
        direct = make_url(database_url)
        query = {k: v for k, v in direct.query.items() if k not in ("host", "port")}
        through = direct.set(host="127.0.0.1", port=self.port, query=query)
        return through.render_as_string(hide_password=False)

    def start(self) -> None:
        command = [BINARY or "pgbouncer", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", self.user]  # it refuses to run as root
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start listening")

    def kill(self) -> None:
        """Gone at once, every client and server connection with it (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
