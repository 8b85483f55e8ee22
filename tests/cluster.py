"""A local cluster: PgBouncer (transaction pooling) in front of one PostgreSQL database,
`authsvc serve` replicas and `authsvc worker`s behind it, and HAProxy (Debian's
`haproxy`) in front of the replicas, checking `/readyz`.

    python3 dev.py python -m tests.cluster [--replicas 3] [--workers 2]

prints where HAProxy listens and runs until Ctrl-C, on a scratch database of the server
AUTHSVC_TEST_DATABASE_URL names (dropped afterwards). tests/test_cluster.py uses the
same `Cluster`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.pooler import PgBouncer

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None
)
SECRET_KEY = "cluster-secret-key-" + "c" * 32
CHECK_INTERVAL_MS = 500  # HAProxy's /readyz check; a replica is out after 2 failures
CHECK_FALL = 2
# A replica told to stop answers /readyz with 503 this long (AUTHSVC_SHUTDOWN_DRAIN)
# before it stops accepting: more than HAProxy's checks need to take it out (fall ×
# inter), with a second to spare for a check under way.
SHUTDOWN_DRAIN_S = CHECK_FALL * CHECK_INTERVAL_MS / 1000 + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """PgBouncer, `replicas` × `authsvc serve`, `workers` × `authsvc worker`, HAProxy."""

    def __init__(self, database_url: str, *, replicas: int = 3, workers: int = 2) -> None:
        if HAPROXY is None:
            raise RuntimeError("haproxy is not installed (Debian: apt-get install haproxy)")
        self.database_url = database_url
        self.dir = Path(tempfile.mkdtemp(prefix="authsvc-cluster-"))
        self.bouncer = PgBouncer(database_url, pool_size=8)
        self.ports = [free_port() for _ in range(replicas)]
        self.port = free_port()
        self.replicas: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.worker_count = workers
        self.extra_env: dict[str, str] = {}  # more settings for every process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSVC_")}
        env.update(
            AUTHSVC_DATABASE_URL=self.bouncer.url(self.database_url),
            AUTHSVC_DATABASE_POOLER="transaction",
            AUTHSVC_DATABASE_DIRECT_URL=self.database_url,
            AUTHSVC_ENV="dev",  # console delivery into the shared mailbox file
            AUTHSVC_SECRET_KEY=SECRET_KEY,
            AUTHSVC_DATA_DIR=str(self.dir),
            AUTHSVC_EMAIL_PROVIDER="console",
            AUTHSVC_SMS_PROVIDER="console",
            AUTHSVC_RUN_DELIVERY_WORKER="false",
            AUTHSVC_LOG_LEVEL="warning",
            AUTHSVC_DELIVERY_POLL_INTERVAL="1",
            AUTHSVC_PUBLIC_URL="http://127.0.0.1:8000",
            AUTHSVC_SHUTDOWN_DRAIN=str(SHUTDOWN_DRAIN_S),
        )
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "authsvc", *args], env=self.env(), input=stdin.encode(),
            capture_output=True, check=True,
        )  # fmt: skip
        return done.stdout.decode()

    def start(self) -> None:
        self.bouncer.start()
        self.cli("migrate")
        for port in self.ports:
            self.replicas.append(self._serve(port))
        for _ in range(self.worker_count):
            self.workers.append(self._worker())
        for port in self.ports:
            self._until_ready(f"http://127.0.0.1:{port}")
        self._start_haproxy()
        self._until_ready(self.url)

    def _serve(self, port: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "authsvc", "serve", "--port", str(port)]
        log = (self.dir / f"serve-{port}.log").open("ab")
        return subprocess.Popen(command, env=self.env(), stdout=log, stderr=log)

    def _worker(self) -> subprocess.Popen[bytes]:
        log = (self.dir / f"worker-{len(self.workers)}.log").open("ab")
        command = [sys.executable, "-m", "authsvc", "worker"]
        return subprocess.Popen(command, env=self.env(), stdout=log, stderr=log)

    def _until_ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} did not become ready; logs in {self.dir}")

    def _start_haproxy(self) -> None:
        servers = "\n".join(
            f"    server r{number} 127.0.0.1:{port} check" for number, port in enumerate(self.ports)
        )
        config = self.dir / "haproxy.cfg"
        config.write_text(
            f"""global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A connection refused is tried on another replica (the request never left). A
    # connection closed without an answer is too, for GET and HEAD only: a POST may
    # have been acted on by a replica that died before answering.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    # One connection per request to the replicas, so a replica's shutdown never meets a
    # request on a kept-alive connection it is closing.
    option http-server-close

frontend authsvc
    bind 127.0.0.1:{self.port}
    http-request disable-l7-retry if !METH_GET
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {CHECK_INTERVAL_MS}ms fall {CHECK_FALL} rise 2
    # Which replica answered (r0, r1...), for the tests.
    http-response set-header X-Replica %s
{servers}
"""
        )
        self.haproxy = subprocess.Popen(
            [HAPROXY or "haproxy", "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        for process in [*self.replicas, *self.workers, self.haproxy]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.replicas, *self.workers, self.haproxy]:
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.bouncer.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # The benchmarks' scratch database: on AUTHSVC_TEST_DATABASE_URL's server, or embedded.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    common = importlib.import_module("common")

    with common.scratch_database() as url:
        cluster = Cluster(url, replicas=args.replicas, workers=args.workers)
        try:
            cluster.start()
            print(f"HAProxy: {cluster.url} (replicas on {cluster.ports}); Ctrl-C stops")
            stop = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # taken by sigwait, not raised
            signal.sigwait(stop)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
