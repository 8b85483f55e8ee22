"""What the benchmarks share: scratch databases, `authsvc serve` in a subprocess, a bare
HTTP/1.1 load client and the child processes that run it.

The benchmarks run as scripts (`python3 dev.py python bench/<name>.py`), so this folder
is on `sys.path` and they import this module as `common`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil

if TYPE_CHECKING:
    import asyncpg

PASSWORD = "benchmark password that is long enough"
SECRET_KEY = "bench-secret-key-" + "b" * 32


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(pass_through: tuple[str, ...] = (), **settings: str) -> dict[str, str]:
    """This environment without its AUTHSVC_* variables (but those starting with one of
    `pass_through`), plus `settings`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AUTHSVC_") or name.startswith(pass_through)
    }
    env.update(settings)
    return env


# --- databases ---------------------------------------------------------------------------
# The database modules are imported where used: the load generators' child processes
# import this module too and should start quickly.


def configured_database_url() -> str | None:
    """The PostgreSQL server to use, or None for an embedded one."""
    return os.environ.get("AUTHSVC_TEST_DATABASE_URL") or None


async def connect(url: str) -> asyncpg.Connection:
    """An asyncpg connection to the database of an SQLAlchemy-style `url`."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    host = parsed.query.get("host") or parsed.host
    return await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=list(host) if isinstance(host, tuple) else host,
        port=int(str(parsed.query.get("port") or parsed.port or 5432)),
        database=parsed.database,
    )


async def _execute(url: str, sql: str) -> None:
    connection = await connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    from authsvc.core.db import create_engine
    from authsvc.ops.migrations import upgrade

    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(*, migrate: bool = False) -> Iterator[str]:
    """The URL of a fresh database for this run only, dropped afterwards, on the server
    AUTHSVC_TEST_DATABASE_URL names or on an embedded one in a temporary folder. With
    `migrate`, at the latest schema; otherwise empty."""
    from sqlalchemy.engine import make_url

    from authsvc.ops.embedded import EmbeddedPostgres

    embedded = None
    data_dir = None
    server_url = configured_database_url()
    if server_url is None:
        data_dir = Path(tempfile.mkdtemp(prefix="authsvc-bench-pg-"))
        data_dir.chmod(0o755)  # the embedded server runs as its own OS user when we are root
        embedded = EmbeddedPostgres(data_dir)
        server_url = embedded.start(database="postgres")
    try:
        name = f"authsvc_bench_{secrets.token_hex(4)}"
        asyncio.run(_execute(server_url, f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
            if migrate:
                asyncio.run(_migrate(url))
            yield url
        finally:
            asyncio.run(_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if embedded is not None:
            embedded.stop()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- the service -------------------------------------------------------------------------


class Server:
    """`authsvc serve` in a subprocess with its own data folder, against `database_url`, or
    with None, against the embedded PostgreSQL it starts in that folder.

    `settings` are added to (or override) the environment; AUTHSVC_* variables of this
    process are left out but for those starting with one of `pass_through`.
    """

    def __init__(
        self,
        database_url: str | None,
        settings: Mapping[str, str] | None = None,
        pass_through: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="authsvc-bench-"))
        self.port = free_port()
        self.env = service_env(
            pass_through,
            AUTHSVC_DATA_DIR=str(self.data_dir),
            AUTHSVC_EMAIL_PROVIDER="console",
            AUTHSVC_SMS_PROVIDER="console",
            AUTHSVC_LOG_LEVEL="warning",
            # Each benchmark measures its own path; the delivery worker has its own benchmark.
            AUTHSVC_RUN_DELIVERY_WORKER="false",
        )
        if database_url is None:
            self.data_dir.chmod(0o755)  # the embedded server runs as its own OS user as root
        else:
            self.env.update(AUTHSVC_DATABASE_URL=database_url, AUTHSVC_ENV="dev")
        self.env.update(settings or {})
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str = "") -> str:
        """Run `authsvc <args>` with the server's settings; its standard output."""
        done = subprocess.run(
            [sys.executable, "-m", "authsvc", *args],
            env=self.env,
            input=stdin.encode(),
            check=True,
            capture_output=True,
        )
        return done.stdout.decode()

    def start(self) -> None:
        command = [sys.executable, "-m", "authsvc", "serve", "--port", str(self.port), "--migrate"]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit("authsvc serve did not become ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its child processes."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --- load generators (run in child processes) ---------------------------------------------


def post(url: str, path: str, body: object, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of an HTTP/1.1 POST of `body` as JSON to `url` + `path`."""
    host = url.removeprefix("http://")
    data = json.dumps(body).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"{extra}content-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


class HttpConnection:
    """One keep-alive connection of the bare HTTP/1.1 client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> HttpConnection:
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, request: bytes) -> tuple[str, bytes]:
        """The status and body of the answer to `request` (bytes from `post` or `get`)."""
        self.writer.write(request)
        status = (await self.reader.readline()).split(b" ")[1].decode()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def get(url: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of an HTTP/1.1 GET of `url` + `path`."""
    host = url.removeprefix("http://")
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nhost: {host}\r\n{extra}\r\n".encode()


async def http_loop(
    url: str,
    requests: list[bytes],
    concurrency: int,
    seconds: float,
    record: bool = False,
    pace: float = 0.0,
    expect: bytes | None = None,
) -> dict[str, Any]:
    """Send `requests` round robin from `concurrency` keep-alive connections.

    A bare HTTP/1.1 client: on a 2-core machine the load generator shares the CPUs with
    the server, so it must cost next to nothing per request. Each connection sends its
    next request as soon as the answer is in, or with `pace` at most one every `pace`
    seconds (a steady stream). Returns answer counts (a 200 whose body lacks `expect`
    counts as "200-not-valid") and, when `record`, every latency in milliseconds.
    """
    counts: dict[str, int] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    position = 0

    async def connection() -> None:
        nonlocal position
        http = await HttpConnection.open(url)
        try:
            while time.monotonic() < deadline:
                request = requests[position % len(requests)]
                position += 1
                started = time.perf_counter()
                status, body = await http.send(request)
                if record:
                    latencies.append((time.perf_counter() - started) * 1000)
                if expect is not None and status == "200" and expect not in body:
                    status = "200-not-valid"
                counts[status] = counts.get(status, 0) + 1
                if pace:
                    await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))
        except (OSError, IndexError, asyncio.IncompleteReadError) as error:
            counts[type(error).__name__] = counts.get(type(error).__name__, 0) + 1
        finally:
            http.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    # The generator's own CPU, so a report can show what the load cost the machine.
    return {"counts": counts, "latencies": latencies, "cpu_seconds": time.process_time()}


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    """`script --child <args>` in a new Python process; it prints its result as JSON."""
    return subprocess.Popen(
        [sys.executable, script, "--child", *args], stdout=subprocess.PIPE, text=True
    )


def collect(process: subprocess.Popen[str]) -> Any:
    """The JSON result of a process from `spawn`, once it ends."""
    out, _ = process.communicate(timeout=900)
    return json.loads(out)


# --- argon2 alone, and where the CPU goes ------------------------------------------------


class Argon2Probe:
    """argon2 with given parameters, timed in this process while the server idles."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int = 1) -> None:
        from authsvc.accounts.passwords import PasswordHasher

        self.hasher = PasswordHasher(
            memory_kib=memory_kib, time_cost=time_cost, parallelism=parallelism
        )
        self.stored = self.hasher.hash_blocking(PASSWORD)

    def _verify_many(self, count: int) -> list[float]:
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            self.hasher._argon2.verify(self.stored, PASSWORD)
            timings.append(time.perf_counter() - started)
        return timings

    def one(self, seconds: float = 1.0) -> float:
        """The median time of one verification on an otherwise idle machine."""
        first = self._verify_many(1)[0]
        return statistics.median(self._verify_many(max(5, int(seconds / first))))

    def all_cores(self, cores: int, seconds: float = 1.0) -> float:
        """Verifications per second with every core verifying at once: the real ceiling,
        a little under the bound, as the cores share caches and memory bandwidth."""
        count = max(3, int(seconds / self.one(0.2)))
        started = time.perf_counter()
        with ThreadPoolExecutor(cores) as pool:
            list(pool.map(self._verify_many, [count] * cores))
        return cores * count / (time.perf_counter() - started)

    def close(self) -> None:
        self.hasher.close()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(path: str) -> list[str] | None:
    """/proc/.../stat from field 3 (state) on: field n is at index n - 3."""
    try:
        with open(path) as stat:
            text = stat.read()
    except OSError:  # the process or thread has ended
        return None
    return text[text.rindex(")") + 2 :].split()


def process_seconds(pid: int) -> float:
    """CPU seconds of a process, all its threads, ended ones included."""
    fields = _stat_fields(f"/proc/{pid}/stat")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else 0.0


def thread_seconds(pid: int) -> dict[int, tuple[float, int]]:
    """Each live thread of `pid`: (CPU seconds, nice)."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
        if fields:
            threads[int(tid)] = ((int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(fields[16]))
    return threads


def tree_seconds(pid: int) -> float:
    """CPU seconds of a Python process and its live Python children (`serve` with several
    workers); the embedded PostgreSQL it may have started is left out (see postgres_roles)."""
    parent = psutil.Process(pid)
    family = [parent, *parent.children(recursive=True)]
    return sum(process_seconds(one.pid) for one in family if "python" in one.name())


# What each PostgreSQL process is, from pg_stat_activity.
_WORKER_APPLICATIONS = ("authsvc-worker", "authsvc-delivery-listener")


async def postgres_roles(url: str) -> dict[int, str]:
    """Each PostgreSQL process by what it serves: the API (application_name `authsvc`), the
    delivery worker, or the server itself (background processes)."""
    connection = await connect(url)
    try:
        rows = await connection.fetch(
            "SELECT pid, application_name, backend_type FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    roles = {}
    for row in rows:
        if row["backend_type"] != "client backend":
            roles[row["pid"]] = "postgres: background"
        elif row["application_name"] == "authsvc":
            roles[row["pid"]] = "postgres: API"
        elif row["application_name"] in _WORKER_APPLICATIONS:
            roles[row["pid"]] = "postgres: worker"
    return roles


def postgres_seconds(url: str, role: str) -> float:
    """CPU seconds so far of the PostgreSQL processes in `role` (see postgres_roles)."""
    roles = asyncio.run(postgres_roles(url))
    return sum(process_seconds(pid) for pid, what in roles.items() if what == role)


def machine_description() -> str:
    """Cores, CPU model and load, to print beside every result."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores, {cpu_model()}, load average {load}"


# --- results as data (bench/charts.py draws them) ------------------------------------------


def cpu_model() -> str:
    """The CPU's model name, as the figures in docs/performance.md name the machine."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def add_result_arguments(parser: argparse.ArgumentParser, label: str) -> None:
    """--json FILE and --label TEXT, for `save_run`."""
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also add this run's figures to FILE (JSON; bench/charts.py draws from it)",
    )
    parser.add_argument("--label", default=label, help=f"the run's name in FILE ({label!r})")


def save_run(path: Path | None, benchmark: str, label: str, figures: Mapping[str, Any]) -> None:
    """Add a run's figures to the results file `path` (nothing without one), with the
    machine, the UTC date and the load: a run of the same label replaces the old one, so
    runs with other settings (another argon2 cost, a pooler) can share one file."""
    if path is None:
        return
    results: dict[str, Any] = {"benchmark": benchmark, "runs": []}
    if path.exists():
        results = json.loads(path.read_text())
        if results.get("benchmark") != benchmark:
            raise SystemExit(f"{path} holds results of {results.get('benchmark')!r}")
    run = {
        "label": label,
        "machine": f"{cpu_model()}, {os.cpu_count()} vCPUs",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "source": "bench/" + Path(sys.argv[0]).name + " " + " ".join(sys.argv[1:]),
        **figures,
    }
    results["runs"] = [old for old in results["runs"] if old.get("label") != label] + [run]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results added to {path}")
