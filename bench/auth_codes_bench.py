"""Support verification benchmark (issue 5): `/auth-codes/verify` throughput and latency,
alone, while logins saturate the CPU, and with 10 thousand vs 1 million accounts plus
10 million old audit rows.

    .venv/bin/python bench/auth_codes_bench.py [--seconds 15] [--accounts 1000000]
                                               [--audit-rows 10000000]

Runs `authsvc serve` as a real subprocess on 127.0.0.1 against a PostgreSQL of its own
(the embedded one in a temporary folder, or a scratch database on the server named by
AUTHSVC_TEST_DATABASE_URL, dropped afterwards) and drives it from separate processes with
a bare HTTP/1.1 client, so the load generator costs next to nothing on a 2-core machine.
Loopback traffic only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from authsvc.auth_codes.service import PURPOSE
from authsvc.core.crypto import Keyring, random_token, token_digest
from authsvc.core.embedded import EmbeddedPostgres

PASSWORD = "benchmark password that is long enough"
SECRET_KEY = "bench-secret-key-" + "b" * 32
CODE = "123456"  # every live bench code; the HMAC binds it to its own account
LIVE_ACCOUNTS = 500  # customers support checks during the run, round robin


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def asyncpg_dsn(url: str) -> dict[str, object]:
    parsed = make_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.query.get("host") or parsed.host,
        "port": int(str(parsed.query.get("port") or parsed.port or 5432)),
        "database": parsed.database,
    }


@contextmanager
def database() -> Iterator[str]:
    """A database URL for this run only."""
    configured = os.environ.get("AUTHSVC_TEST_DATABASE_URL")
    if configured:
        name = f"authsvc_bench_{secrets.token_hex(4)}"

        async def admin(sql: str) -> None:
            connection = await asyncpg.connect(**asyncpg_dsn(configured))  # type: ignore[arg-type]
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(configured).set(database=name).render_as_string(hide_password=False)
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="authsvc-bench-pg-"))
    data_dir.chmod(0o755)  # the embedded server runs as its own OS user when we are root
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


class Server:
    """`authsvc serve` in a subprocess against `url`."""

    def __init__(self, url: str, workers: int = 1) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="authsvc-bench-"))
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSVC_")}
        self.env.update(
            AUTHSVC_DATABASE_URL=url,
            AUTHSVC_ENV="dev",
            AUTHSVC_SECRET_KEY=SECRET_KEY,
            AUTHSVC_DATA_DIR=str(self.data_dir),
            AUTHSVC_EMAIL_PROVIDER="console",
            AUTHSVC_SMS_PROVIDER="console",
            AUTHSVC_LOG_LEVEL="warning",
            AUTHSVC_RUN_DELIVERY_WORKER="false",
            # The per-key limit would stop the benchmark after 120 calls a minute.
            AUTHSVC_SUPPORT_KEY_RATE_LIMIT="1000000000",
            AUTHSVC_WORKERS=str(workers),
        )
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str = "") -> str:
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

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --- data -----------------------------------------------------------------------------


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(**asyncpg_dsn(url))  # type: ignore[arg-type]


async def add_accounts(url: str, prefix: str, first: int, last: int) -> None:
    """Accounts `<prefix>-<first>` .. `<prefix>-<last>` (no usable password)."""
    connection = await connect(url)
    try:
        await connection.execute(
            """
            INSERT INTO accounts (id, login, password_hash, email, channel, locale, disabled,
                                  created_at, updated_at)
            SELECT gen_random_uuid(), $1 || '-' || g, 'x', $1 || '-' || g || '@example.com',
                   'email', 'en', false, now(), now()
            FROM generate_series($2::int, $3::int) AS g
            """,
            prefix,
            first,
            last,
        )
    finally:
        await connection.close()


async def refresh_live_codes(url: str) -> list[str]:
    """Give every `live-*` account a fresh code valid for an hour; return their logins."""
    keyring = Keyring([SECRET_KEY.encode()])
    connection = await connect(url)
    try:
        rows = await connection.fetch("SELECT id, login FROM accounts WHERE login LIKE 'live-%'")
        async with connection.transaction():
            await connection.execute(
                "UPDATE auth_codes SET revoked_at = now(), revoke_reason = 'replaced' "
                "WHERE revoked_at IS NULL AND account_id = ANY($1::uuid[])",
                [row["id"] for row in rows],
            )
            await connection.executemany(
                "INSERT INTO auth_codes (id, account_id, code_mac, created_at, expires_at) "
                "VALUES ($1, $2, $3, now(), now() + interval '1 hour')",
                [
                    (uuid.uuid4(), row["id"], keyring.sign(PURPOSE, str(row["id"]), CODE))
                    for row in rows
                ],
            )
        return [row["login"] for row in rows]
    finally:
        await connection.close()


async def scale_up(url: str, accounts: int, audit_rows: int) -> None:
    """Grow to `accounts` accounts, each bulk one with an expired code, plus old audit rows.

    The audit table's secondary indexes are dropped for the load and rebuilt after it,
    as one would for any bulk load; the definitions are the migration's.
    """
    connection = await connect(url)
    try:
        have = await connection.fetchval("SELECT count(*) FROM accounts")
        step = 250_000
        for first in range(1, accounts - have + 1, step):
            last = min(first + step - 1, accounts - have)
            await add_accounts(url, "bulk", first, last)
            print(f"  accounts: +{last - first + 1}", flush=True)
        await connection.execute(
            """
            INSERT INTO auth_codes (id, account_id, code_mac, created_at, expires_at)
            SELECT gen_random_uuid(), id, '\\x00'::bytea, now() - interval '3 days',
                   now() - interval '3 days' + interval '1 hour'
            FROM accounts WHERE login LIKE 'bulk-%'
            """
        )
        print("  expired codes: one per bulk account", flush=True)
        key_id = await connection.fetchval("SELECT id FROM support_keys LIMIT 1")
        await connection.execute(
            "CREATE TABLE bench_ids AS SELECT row_number() OVER () AS n, id FROM accounts"
        )
        total = await connection.fetchval("SELECT count(*) FROM bench_ids")
        await connection.execute("ALTER TABLE bench_ids ADD PRIMARY KEY (n)")
        await connection.execute("DROP INDEX ix_auth_code_verifications_account_id_verified_at")
        await connection.execute("DROP INDEX ix_auth_code_verifications_verified_at")
        chunk = 1_000_000
        for first in range(1, audit_rows + 1, chunk):
            last = min(first + chunk - 1, audit_rows)
            # Spread over the accounts (a multiplicative hash of g) and the last ~700 days.
            await connection.execute(
                """
                INSERT INTO auth_code_verifications
                    (verified_at, support_key_id, account_id, result, purpose, client_ip)
                SELECT now() - interval '2 hours' - random() * interval '700 days', $1,
                       b.id, (ARRAY['valid','valid','valid','mismatch','expired'])[1 + g % 5],
                       'ticket ' || g, '198.51.100.' || (g % 250)
                FROM generate_series($2::bigint, $3::bigint) AS g
                JOIN bench_ids b ON b.n = 1 + (g * 2654435761) % $4
                """,
                key_id,
                first,
                last,
                total,
            )
            print(f"  audit rows: {last:,}", flush=True)
        await connection.execute(
            "CREATE INDEX ix_auth_code_verifications_account_id_verified_at "
            "ON auth_code_verifications (account_id, verified_at)"
        )
        await connection.execute(
            "CREATE INDEX ix_auth_code_verifications_verified_at "
            "ON auth_code_verifications (verified_at)"
        )
        await connection.execute("DROP TABLE bench_ids")
    finally:
        await connection.close()
    await settle(url)


async def settle(url: str) -> None:
    """Statistics fresh and the load written out, before a measurement (both scales)."""
    connection = await connect(url)
    try:
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def create_code_over_http(url: str, server: Server, login: str) -> str:
    """The real endpoint: a session (made directly in the database), then POST /auth-codes."""
    token = random_token(32)
    connection = await connect(url)
    try:
        account_id = await connection.fetchval(
            "SELECT id FROM accounts WHERE lower(login) = lower($1)", login
        )
        await connection.execute(
            """
            INSERT INTO sessions (id, token_hash, account_id, created_at, last_seen_at,
                                  idle_expires_at, expires_at, ip, user_agent)
            VALUES ($1, $2, $3, now(), now(), now() + interval '30 minutes',
                    now() + interval '12 hours', '127.0.0.1', 'bench')
            """,
            uuid.uuid4(),
            token_digest(token),
            account_id,
        )
    finally:
        await connection.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/auth-codes",
            json={"password": PASSWORD},
            headers={"authorization": f"Bearer {token}"},
        )
    if response.status_code != 201:
        raise SystemExit(f"POST /auth-codes answered {response.status_code}: {response.text}")
    code: str = response.json()["code"]
    return code


# --- load generators (run in child processes) -------------------------------------------


async def http_loop(
    url: str,
    requests: list[bytes],
    concurrency: int,
    seconds: float,
    record: bool,
    pace: float = 0.0,
) -> dict[str, object]:
    """Send `requests` round robin from `concurrency` keep-alive connections.

    Each connection sends its next request as soon as the answer is in, or with `pace`
    at most one every `pace` seconds (a steady stream, like support tools at work).
    Returns answer counts and, when `record`, every latency in milliseconds.
    """
    host, port = url.removeprefix("http://").split(":")
    counts: dict[str, int] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    position = 0

    async def connection() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.monotonic() < deadline:
                request = requests[position % len(requests)]
                position += 1
                started = time.perf_counter()
                writer.write(request)
                status = (await reader.readline()).split(b" ")[1].decode()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                if record:
                    latencies.append((time.perf_counter() - started) * 1000)
                    if status == "200" and b'"valid":true' not in body:
                        status = "200-not-valid"
                counts[status] = counts.get(status, 0) + 1
                if pace:
                    await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))
        except (OSError, IndexError, asyncio.IncompleteReadError) as error:
            counts[type(error).__name__] = counts.get(type(error).__name__, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return {"counts": counts, "latencies": latencies}


def post(url: str, path: str, body: object, headers: dict[str, str] | None = None) -> bytes:
    host = url.removeprefix("http://")
    data = json.dumps(body).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"{extra}content-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def child(args: list[str]) -> None:
    kind, url, concurrency, seconds, pace, *rest = args
    if kind == "login":
        [login] = rest
        requests = [post(url, "/login", {"login": login, "password": PASSWORD})]
        record = False
    else:
        key, logins_file = rest
        logins = Path(logins_file).read_text().split()
        auth = {"authorization": f"Bearer {key}"}
        requests = [
            post(url, "/auth-codes/verify", {"customer": c, "code": CODE, "purpose": "b"}, auth)
            for c in logins
        ]
        record = True
    result = asyncio.run(
        http_loop(url, requests, int(concurrency), float(seconds), record, float(pace))
    )
    print(json.dumps(result))


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True
    )


def collect(process: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = process.communicate(timeout=900)
    result: dict[str, object] = json.loads(out)
    return result


def report(label: str, result: dict[str, object], seconds: float) -> dict[str, float]:
    counts = result["counts"]
    latencies = result["latencies"]
    assert isinstance(counts, dict)
    assert isinstance(latencies, list)
    figures = {
        "rate": counts.get("200", 0) / seconds,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
    }
    print(
        f"{label}: {figures['rate']:.0f} valid verifications/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, answers {counts}",
        flush=True,
    )
    return figures


# --- the benchmark ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15, help="length of each measurement")
    parser.add_argument("--accounts", type=int, default=1_000_000, help="large-scale accounts")
    parser.add_argument("--audit-rows", type=int, default=10_000_000, help="old audit rows")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    seconds = args.seconds
    cores = os.cpu_count() or 1
    with database() as url:
        server = Server(url, workers=args.workers)
        logins_file = server.data_dir / "logins.txt"
        try:
            server.start()
            login = f"bench-{secrets.token_hex(3)}"
            server.cli("accounts", "create", "--login", login, "--email",
                       f"{login}@example.com", stdin=PASSWORD)  # fmt: skip
            key = server.cli("support-keys", "create", "--name", "bench").strip()
            # Small scale: 10 thousand accounts, LIVE_ACCOUNTS of them with a live code.
            asyncio.run(add_accounts(url, "live", 1, LIVE_ACCOUNTS))
            asyncio.run(add_accounts(url, "small", 1, 10_000 - LIVE_ACCOUNTS - 1))
            logins_file.write_text("\n".join(asyncio.run(refresh_live_codes(url))))
            asyncio.run(settle(url))

            # The real endpoints once, end to end.
            code = asyncio.run(create_code_over_http(url, server, login))
            checked = httpx.post(
                f"{server.url}/auth-codes/verify",
                json={"customer": login, "code": code},
                headers={"authorization": f"Bearer {key}"},
            ).json()
            assert checked["valid"] is True, checked
            print(f"cores: {cores}; generated a code over HTTP and verified it: {checked}")

            def measure(label: str, concurrency: int, pace: float = 0) -> dict[str, float]:
                verifying = spawn("verify", server.url, str(concurrency), str(seconds),
                                  str(pace), key, str(logins_file))  # fmt: skip
                return report(label, collect(verifying), seconds)

            def latency(label: str, runs: int = 3) -> dict[str, float]:
                """One connection, `runs` times; the median of each figure (p99 is noisy)."""
                results = [measure(f"{label}, 1 connection (latency)", 1) for _ in range(runs)]
                return {
                    name: sorted(result[name] for result in results)[runs // 2]
                    for name in ("rate", "p50", "p99")
                }

            collect(spawn("verify", server.url, "4", "3", "0", key, str(logins_file)))  # warm-up
            small_tp = measure("10k accounts, 8 connections (throughput)", 8)
            small_lat = latency("10k accounts")

            flood = spawn("login", server.url, str(cores * 4), str(seconds + 4), "0", login)
            time.sleep(2)  # let the flood saturate the CPU first
            # Support tools at a steady 50 verifications/s while the CPU is saturated.
            loaded = measure("while logins saturate the CPU, 50/s paced", 2, pace=0.04)
            flood_result = collect(flood)
            print(f"  login flood answers: {flood_result['counts']}")

            started = time.monotonic()
            print(f"loading {args.accounts:,} accounts and {args.audit_rows:,} audit rows ...")
            asyncio.run(scale_up(url, args.accounts, args.audit_rows))
            print(f"  loaded in {time.monotonic() - started:.0f} s")
            logins_file.write_text("\n".join(asyncio.run(refresh_live_codes(url))))
            collect(spawn("verify", server.url, "4", "3", "0", key, str(logins_file)))  # warm-up
            large_tp = measure(f"{args.accounts:,} accounts, 8 connections (throughput)", 8)
            large_lat = latency(f"{args.accounts:,} accounts")

            print("summary:")
            print(f"  alone: {small_tp['rate']:.0f}/s, p99 {small_tp['p99']:.1f} ms; one conn.:"
                  f" p50 {small_lat['p50']:.1f} ms, p99 {small_lat['p99']:.1f} ms")  # fmt: skip
            verdict = "met" if loaded["p99"] < 50 else "MISSED"
            print(f"  under login load: p99 {loaded['p99']:.1f} ms (target < 50 ms: {verdict})")
            for name in ("p50", "p99"):
                change = 100 * (large_lat[name] / small_lat[name] - 1)
                print(f"  {name} latency 10k -> {args.accounts:,}: {small_lat[name]:.2f} -> "
                      f"{large_lat[name]:.2f} ms ({change:+.0f}%)")  # fmt: skip
            change = 100 * (large_tp["rate"] / small_tp["rate"] - 1)
            print(f"  throughput 10k -> {args.accounts:,}: {small_tp['rate']:.0f} -> "
                  f"{large_tp['rate']:.0f}/s ({change:+.0f}%)")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
