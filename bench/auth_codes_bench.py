"""Support verification benchmark (issue 5): `/auth-codes/verify` throughput and latency,
alone, while logins saturate the CPU, and with 10 thousand vs 1 million accounts plus
10 million old audit rows.

    python3 dev.py python bench/auth_codes_bench.py [--seconds 15] [--accounts 1000000]
                                               [--audit-rows 10000000]

Runs `authsvc serve` as a real subprocess on 127.0.0.1 against a scratch database of its
own (on the server named by AUTHSVC_TEST_DATABASE_URL, or on an embedded one in a temporary
folder; dropped afterwards) and drives it from separate processes with
a bare HTTP/1.1 client, so the load generator costs next to nothing on a 2-core machine.
Loopback traffic only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from common import (
    PASSWORD,
    SECRET_KEY,
    Server,
    collect,
    connect,
    get,
    http_loop,
    percentile,
    post,
    postgres_seconds,
    scratch_database,
    spawn,
    tree_seconds,
)

from authsvc.auth_codes.service import PURPOSE
from authsvc.core.crypto import Keyring, random_token, token_digest

CODE = "123456"  # every live bench code; the HMAC binds it to its own account
LIVE_ACCOUNTS = 500  # customers support checks during the run, round robin


# --- data -----------------------------------------------------------------------------


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


def child(args: list[str]) -> None:
    kind, url, concurrency, seconds, pace, *rest = args
    if kind == "login":
        [login] = rest
        requests = [post(url, "/login", {"login": login, "password": PASSWORD})]
        record, expect = False, None
    elif kind == "healthz":
        requests = [get(url, "/healthz")]
        record, expect = True, None
    else:
        key, logins_file = rest
        logins = Path(logins_file).read_text().split()
        auth = {"authorization": f"Bearer {key}"}
        requests = [
            post(url, "/auth-codes/verify", {"customer": c, "code": CODE, "purpose": "b"}, auth)
            for c in logins
        ]
        record, expect = True, b'"valid":true'
    result = asyncio.run(
        http_loop(url, requests, int(concurrency), float(seconds), record, float(pace), expect)
    )
    print(json.dumps(result))


def cpu_now(server_pid: int, url: str) -> dict[str, float]:
    """CPU seconds so far of the server (all its processes) and of its PostgreSQL backends."""
    return {
        "server": tree_seconds(server_pid),
        "postgres: API": postgres_seconds(url, "postgres: API"),
    }


def report(
    label: str, result: dict[str, object], seconds: float, cpu: dict[str, float]
) -> dict[str, float]:
    counts = result["counts"]
    latencies = result["latencies"]
    assert isinstance(counts, dict)
    assert isinstance(latencies, list)
    figures = {
        "rate": counts.get("200", 0) / seconds,  # valid verifications (or 200s of /healthz)
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
    }
    print(
        f"{label}: {figures['rate']:.0f} valid verifications/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, answers {counts}",
        flush=True,
    )
    answered = max(1, sum(counts.values()))  # every answer cost its CPU, valid or not
    shares = ", ".join(f"{name} {1000 * spent / answered:.2f}" for name, spent in cpu.items())
    print(f"  CPU per call (ms): {shares}; all {1000 * sum(cpu.values()) / answered:.2f}")
    return figures


# --- the benchmark ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15, help="length of each measurement")
    parser.add_argument("--accounts", type=int, default=1_000_000, help="large-scale accounts")
    parser.add_argument("--audit-rows", type=int, default=10_000_000, help="old audit rows")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--py-spy", metavar="FILE", help="py-spy stacks of the throughput run")
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    seconds = args.seconds
    cores = os.cpu_count() or 1
    with scratch_database() as url:
        server = Server(
            url,
            {
                "AUTHSVC_SECRET_KEY": SECRET_KEY,
                # The per-key limit would stop the benchmark after 120 calls a minute.
                "AUTHSVC_SUPPORT_KEY_RATE_LIMIT": "1000000000",
                "AUTHSVC_WORKERS": str(args.workers),
            },
        )
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

            def measure(
                label: str, concurrency: int, pace: float = 0, kind: str = "verify"
            ) -> dict[str, float]:
                assert server.process is not None
                before = cpu_now(server.process.pid, url)
                verifying = spawn(__file__, kind, server.url, str(concurrency),
                                  str(seconds), str(pace), key, str(logins_file))  # fmt: skip
                result = collect(verifying)
                cpu = {name: after - before[name]
                       for name, after in cpu_now(server.process.pid, url).items()}  # fmt: skip
                cpu["load generator"] = result["cpu_seconds"]
                return report(label, result, seconds, cpu)

            def latency(label: str, runs: int = 3) -> dict[str, float]:
                """One connection, `runs` times; the median of each figure (p99 is noisy)."""
                results = [measure(f"{label}, 1 connection (latency)", 1) for _ in range(runs)]
                return {
                    name: sorted(result[name] for result in results)[runs // 2]
                    for name in ("rate", "p50", "p99")
                }

            warm_up = (__file__, "verify", server.url, "4", "3", "0", key, str(logins_file))
            collect(spawn(*warm_up))
            spy = (
                subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--format",
                        "raw",
                        "--rate",
                        "250",
                        "--nonblocking",
                        "--subprocesses",
                        "--duration",
                        str(int(seconds)),
                        "--pid",
                        str(server.process.pid),
                        "--output",
                        args.py_spy,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                if args.py_spy and server.process
                else None
            )
            small_tp = measure("10k accounts, 8 connections (throughput)", 8)
            if spy is not None:
                spy.wait(timeout=60)
            # The floor in the same run: the same server answering /healthz, which touches
            # no database, from the same load generator.
            floor = measure("/healthz, 8 connections (HTTP alone)", 8, kind="healthz")
            print(f"  verify throughput is {100 * small_tp['rate'] / floor['rate']:.0f}% of "
                  "/healthz's on the same server and load generator")  # fmt: skip
            small_lat = latency("10k accounts")

            flood = spawn(
                __file__, "login", server.url, str(cores * 4), str(seconds + 4), "0", login
            )
            time.sleep(2)  # let the flood saturate the CPU first
            # Support tools at a steady 50 verifications/s while the CPU is saturated.
            loaded = measure("while logins saturate the CPU, 50/s paced", 2, pace=0.04)
            flood_result = collect(flood)
            print(f"  login flood answers: {flood_result['counts']}")
            if args.accounts == 0:  # --accounts 0: the small scale only
                print(f"summary: {small_tp['rate']:.0f}/s, p99 {small_tp['p99']:.1f} ms; "
                      f"under login load p99 {loaded['p99']:.1f} ms")  # fmt: skip
                return

            started = time.monotonic()
            print(f"loading {args.accounts:,} accounts and {args.audit_rows:,} audit rows ...")
            asyncio.run(scale_up(url, args.accounts, args.audit_rows))
            print(f"  loaded in {time.monotonic() - started:.0f} s")
            logins_file.write_text("\n".join(asyncio.run(refresh_live_codes(url))))
            collect(spawn(*warm_up))
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
