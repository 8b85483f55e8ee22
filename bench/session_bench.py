"""Session check benchmark (issue 22): `GET /session` with 1 million live sessions, against
`/healthz` on the same server, alone and while logins saturate the CPU, with the writes
per check from PostgreSQL's own statistics and the CPU per check by component.

    python3 dev.py python bench/session_bench.py [--seconds 15] [--sessions 1000000]
                                            [--active 1000] [--workers 1] [--json FILE]

Runs `authsvc serve` as a real subprocess on 127.0.0.1 against a scratch database of its
own (on the server named by AUTHSVC_TEST_DATABASE_URL, or on an embedded one in a temporary
folder; dropped afterwards) and drives it from separate processes with a bare HTTP/1.1
client. Loopback traffic only; every loop is bounded in time.

What a session check writes depends on how often each session is checked: at most once
per session per touch interval (60 s). The load is `--active` sessions picked at random
among the million, checked round robin, as customers in the panel would; their last
written use is spread over the past interval, as it is in a steady state, so a window of
L seconds finds L/60 of them due. Writes per check are then `active / (checks per
interval)`; `--active 1000000` checks every session once, the worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import (
    PASSWORD,
    SECRET_KEY,
    Server,
    add_result_arguments,
    collect,
    connect,
    get,
    http_loop,
    percentile,
    post,
    postgres_roles,
    process_seconds,
    save_run,
    scratch_database,
    spawn,
    tree_seconds,
)

from authsvc.core.crypto import token_digest

SESSIONS_PER_ACCOUNT = 10
TOKEN_PREFIX = "bench-session-"  # token n is TOKEN_PREFIX + n; its row holds sha256 of it
TOUCH_INTERVAL = 60  # seconds, the default AUTHSVC_SESSION_TOUCH_INTERVAL


# --- data -----------------------------------------------------------------------------


async def load_sessions(url: str, sessions: int) -> None:
    """`sessions` live sessions over `sessions / SESSIONS_PER_ACCOUNT` accounts, written
    by generate_series with the sessions' secondary indexes dropped and rebuilt after (as
    for any bulk load; the definitions are the migration's). Each was last written at a
    random moment of the past touch interval, as in a steady state."""
    accounts = max(1, sessions // SESSIONS_PER_ACCOUNT)
    connection = await connect(url)
    try:
        await connection.execute(
            """
            INSERT INTO accounts (id, login, password_hash, email, channel, locale, disabled,
                                  created_at, updated_at)
            SELECT gen_random_uuid(), 'bulk-' || g, 'x', 'bulk-' || g || '@example.com',
                   'email', 'en', false, now(), now()
            FROM generate_series(1, $1::int) AS g
            """,
            accounts,
        )
        await connection.execute(
            "CREATE TABLE bench_ids AS SELECT row_number() OVER () AS n, id FROM accounts "
            "WHERE login LIKE 'bulk-%'"
        )
        await connection.execute("ALTER TABLE bench_ids ADD PRIMARY KEY (n)")
        await connection.execute("DROP INDEX ix_sessions_account_id")
        await connection.execute("DROP INDEX ix_sessions_expires_at")
        await connection.execute("ALTER TABLE sessions DROP CONSTRAINT uq_sessions_token_hash")
        chunk = 250_000
        for first in range(1, sessions + 1, chunk):
            last = min(first + chunk - 1, sessions)
            await connection.execute(
                """
                INSERT INTO sessions (id, token_hash, account_id, created_at, last_seen_at,
                                      idle_expires_at, expires_at, ip, user_agent)
                SELECT gen_random_uuid(), sha256(convert_to($1 || g, 'UTF8')), b.id,
                       now() - interval '1 hour', seen, seen + interval '30 minutes',
                       now() + interval '11 hours', '198.51.100.' || (g % 250),
                       'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
                FROM generate_series($2::int, $3::int) AS g
                JOIN bench_ids b ON b.n = 1 + g % $4
                CROSS JOIN LATERAL (SELECT now() - random() * $5 * interval '1 second'
                                    AS seen OFFSET 0) AS r
                """,
                TOKEN_PREFIX,
                first,
                last,
                accounts,
                TOUCH_INTERVAL,
            )
            print(f"  sessions: {last:,}", flush=True)
        await connection.execute(
            "ALTER TABLE sessions ADD CONSTRAINT uq_sessions_token_hash UNIQUE (token_hash)"
        )
        await connection.execute("CREATE INDEX ix_sessions_account_id ON sessions (account_id)")
        await connection.execute("CREATE INDEX ix_sessions_expires_at ON sessions (expires_at)")
        await connection.execute("DROP TABLE bench_ids")
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def table_megabytes(url: str) -> float:
    connection = await connect(url)
    try:
        size = await connection.fetchval("SELECT pg_total_relation_size('sessions')")
        return int(size) / 1e6
    finally:
        await connection.close()


async def respread(url: str, tokens: list[str]) -> None:
    """Last written uses of the active sessions spread over the past interval again, so
    each measurement starts from the steady state (earlier windows wrote some of them)."""
    connection = await connect(url)
    try:
        await connection.execute(
            """
            UPDATE sessions SET last_seen_at = now() - random() * $2 * interval '1 second',
                                idle_expires_at = now() + interval '29 minutes'
            WHERE token_hash = ANY($1::bytea[])
            """,
            [token_digest(token) for token in tokens],
            TOUCH_INTERVAL,
        )
        await connection.execute("VACUUM ANALYZE sessions")
    finally:
        await connection.close()


# An idle backend holding counts it could not report (it reported less than a second
# before) reports them ten seconds later (PostgreSQL's PGSTAT_IDLE_INTERVAL).
STATS_SETTLE_SECONDS = 11


async def session_updates(url: str) -> int:
    """Rows updated in the sessions table so far, from pg_stat_user_tables, once every
    backend has reported what it did."""
    await asyncio.sleep(STATS_SETTLE_SECONDS)
    connection = await connect(url)
    try:
        found = await connection.fetchval(
            "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'sessions'"
        )
        return int(found)
    finally:
        await connection.close()


async def rows_used_since(url: str, since: float) -> int:
    """Sessions whose last use was written at or after `since` (a Unix time): within one
    interval each is written at most once, so this counts the writes too."""
    connection = await connect(url)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM sessions WHERE last_seen_at >= to_timestamp($1)", since
        )
        return int(found)
    finally:
        await connection.close()


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
        [tokens_file] = rest
        tokens = Path(tokens_file).read_text().split()
        requests = [get(url, "/session", {"authorization": f"Bearer {token}"}) for token in tokens]
        record, expect = True, b'"idle_expires_at"'
    result = asyncio.run(
        http_loop(url, requests, int(concurrency), float(seconds), record, float(pace), expect)
    )
    print(json.dumps(result))


@contextmanager
def pooled(url: str, pooler: str) -> Iterator[tuple[str, Any]]:
    """The URL the server uses: the database itself, or through a PgBouncer started for
    this run (tests/pooler.py, 4 server connections); and that PgBouncer."""
    if pooler == "none":
        yield url, None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package
    bouncer = importlib.import_module("tests.pooler").PgBouncer(url)
    bouncer.start()
    try:
        yield bouncer.url(url), bouncer
    finally:
        bouncer.close()


def cpu_now(server_pid: int, url: str, pgbouncer: int | None) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the server (all its processes), each of its PostgreSQL
    backends and PostgreSQL's own background processes (the WAL writer and checkpointer
    write what checks write), by process id."""
    roles = asyncio.run(postgres_roles(url))
    found: dict[str, dict[int, float]] = {"server": {server_pid: tree_seconds(server_pid)}}
    for role in ("postgres: API", "postgres: background"):
        found[role] = {pid: process_seconds(pid) for pid, what in roles.items() if what == role}
    if pgbouncer is not None:  # its process id
        found["pgbouncer"] = {pgbouncer: process_seconds(pgbouncer)}
    return found


def cpu_spent(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds each component spent between two `cpu_now`s: a process that started in
    between counts in full, one that ended (a pooled connection replaced) is left out."""
    return {
        role: sum(seconds - before[role].get(pid, 0.0) for pid, seconds in pids.items())
        for role, pids in after.items()
    }


def report(
    label: str, result: dict[str, object], seconds: float, cpu: dict[str, float]
) -> dict[str, float]:
    counts = result["counts"]
    latencies = result["latencies"]
    assert isinstance(counts, dict)
    assert isinstance(latencies, list)
    figures = {
        "rate": counts.get("200", 0) / seconds,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "answered": float(sum(counts.values())),
    }
    print(
        f"{label}: {figures['rate']:.0f}/s, p50 {figures['p50']:.2f} ms, "
        f"p99 {figures['p99']:.2f} ms, answers {counts}",
        flush=True,
    )
    answered = max(1, sum(counts.values()))
    shares = ", ".join(f"{name} {1000 * spent / answered:.3f}" for name, spent in cpu.items())
    print(f"  CPU per call (ms): {shares}; all {1000 * sum(cpu.values()) / answered:.3f}")
    return figures


# --- the benchmark ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15, help="length of each measurement")
    parser.add_argument("--sessions", type=int, default=1_000_000, help="live sessions loaded")
    parser.add_argument("--active", type=int, default=1000, help="sessions the load checks")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--pooler",
        choices=("none", "pgbouncer"),
        default="none",
        help="pgbouncer: the server reaches PostgreSQL through a real PgBouncer in "
        "transaction pooling mode (AUTHSVC_DATABASE_POOLER=transaction)",
    )
    parser.add_argument("--child", nargs="*")
    add_result_arguments(parser, "after")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.seconds >= TOUCH_INTERVAL:
        raise SystemExit("--seconds must be under the touch interval (60 s)")

    seconds = args.seconds
    cores = os.cpu_count() or 1
    with scratch_database() as url, pooled(url, args.pooler) as (server_url, pooler):
        settings = {"AUTHSVC_SECRET_KEY": SECRET_KEY, "AUTHSVC_WORKERS": str(args.workers)}
        if pooler is not None:
            settings.update(AUTHSVC_DATABASE_POOLER="transaction",
                            AUTHSVC_DATABASE_DIRECT_URL=url)  # fmt: skip
        server = Server(server_url, settings)
        bouncer_pid = pooler.process.pid if pooler is not None else None
        if pooler is not None:
            print(f"through PgBouncer (transaction pooling) on port {pooler.port}")
        tokens_file = server.data_dir / "tokens.txt"
        try:
            server.start()
            login = f"bench-{secrets.token_hex(3)}"
            server.cli("accounts", "create", "--login", login, "--email",
                       f"{login}@example.com", stdin=PASSWORD)  # fmt: skip
            started = time.monotonic()
            print(f"loading {args.sessions:,} live sessions ...", flush=True)
            asyncio.run(load_sessions(url, args.sessions))
            size = asyncio.run(table_megabytes(url))
            print(f"  loaded in {time.monotonic() - started:.0f} s; the sessions table and its "
                  f"indexes take {size:.0f} MB", flush=True)  # fmt: skip
            picked = random.sample(range(1, args.sessions + 1), min(args.active, args.sessions))
            tokens = [f"{TOKEN_PREFIX}{n}" for n in picked]
            tokens_file.write_text("\n".join(tokens))
            print(f"cores: {cores}; {len(tokens):,} active sessions picked at random")

            def measure(
                label: str, concurrency: int, pace: float = 0, kind: str = "check"
            ) -> dict[str, float]:
                assert server.process is not None
                if kind == "check":
                    asyncio.run(respread(url, tokens))
                updates_before = asyncio.run(session_updates(url))
                before = cpu_now(server.process.pid, url, bouncer_pid)
                window_start = time.time()
                checking = spawn(__file__, kind, server.url, str(concurrency),
                                 str(seconds), str(pace), str(tokens_file))  # fmt: skip
                result = collect(checking)
                cpu = cpu_spent(before, cpu_now(server.process.pid, url, bouncer_pid))
                cpu["load generator"] = result["cpu_seconds"]
                figures = report(label, result, seconds, cpu)
                if kind == "check":
                    writes = asyncio.run(session_updates(url)) - updates_before
                    rows = asyncio.run(rows_used_since(url, window_start))
                    figures["writes_per_check"] = writes / max(1.0, figures["answered"])
                    print(f"  writes: {writes} (n_tup_upd; {rows} rows written in the window)"
                          f", {figures['writes_per_check']:.4f} per check"
                          f" (1 per {1 / max(figures['writes_per_check'], 1e-9):.0f})")  # fmt: skip
                return figures

            def latency(label: str, runs: int = 3) -> dict[str, float]:
                """One connection, `runs` times; the median of each figure (p99 is noisy)."""
                results = [measure(f"{label}, 1 connection (latency)", 1) for _ in range(runs)]
                return {
                    name: sorted(result[name] for result in results)[runs // 2]
                    for name in ("rate", "p50", "p99")
                }

            warm_up = (__file__, "check", server.url, "4", "3", "0", str(tokens_file))
            collect(spawn(*warm_up))
            checks = measure("GET /session, 8 connections (throughput)", 8)
            floor = measure("/healthz, 8 connections (HTTP alone)", 8, kind="healthz")
            ratio = 100 * checks["rate"] / floor["rate"]
            print(f"  session checks run at {ratio:.0f}% of /healthz's rate on the same server "
                  "and load generator (target: at least 60%)")  # fmt: skip
            alone = latency("GET /session")

            flood = spawn(
                __file__, "login", server.url, str(cores * 4), str(seconds + 4), "0", login
            )
            time.sleep(2)  # let the flood saturate the CPU first
            # The panel's checks at a steady 100/s while the CPU is saturated.
            loaded = measure("while logins saturate the CPU, 100/s paced", 2, pace=0.02)
            flood_result = collect(flood)
            print(f"  login flood answers: {flood_result['counts']}")

            print("summary:")
            print(f"  {args.sessions:,} live sessions, {len(tokens):,} checked; "
                  f"{checks['rate']:.0f} checks/s = {ratio:.0f}% of /healthz "
                  f"({floor['rate']:.0f}/s)")  # fmt: skip
            print(f"  alone, one connection: p50 {alone['p50']:.2f} ms, p99 {alone['p99']:.2f} ms")
            verdict = "met" if loaded["p99"] < 10 else "MISSED"
            print(f"  under login load: p50 {loaded['p50']:.2f} ms, p99 {loaded['p99']:.2f} ms "
                  f"(target < 10 ms: {verdict})")  # fmt: skip
            per = checks["writes_per_check"]
            print(f"  writes per check at full rate: {per:.4f} (1 per {1 / max(per, 1e-9):.0f};"
                  " target at most 1 per 50)")  # fmt: skip
            save_run(args.json, "session", args.label, {
                "sessions": args.sessions,
                "active": len(tokens),
                "workers": args.workers,
                "pooler": args.pooler,
                "checks_per_s": round(checks["rate"]),
                "healthz_per_s": round(floor["rate"]),
                "alone_p50_ms": round(alone["p50"], 2),
                "alone_p99_ms": round(alone["p99"], 2),
                "loaded_p50_ms": round(loaded["p50"], 2),
                "loaded_p99_ms": round(loaded["p99"], 2),
                "writes_per_check": round(per, 4),
            })  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
