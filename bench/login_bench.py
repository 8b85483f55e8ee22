"""Login benchmark (issue 4): throughput against the argon2 bound, /healthz latency under
login load, and peak memory under a login flood of 10x capacity.

    .venv/bin/python bench/login_bench.py [--seconds 20]

Runs `authsvc serve` as a real subprocess on 127.0.0.1 (embedded PostgreSQL in a temporary
folder unless AUTHSVC_TEST_DATABASE_URL is set) and drives it from separate processes,
so the load generator does not share the server's event loop. Loopback traffic only;
every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time

import httpx
from common import (
    PASSWORD,
    Server,
    collect,
    configured_database_url,
    http_loop,
    percentile,
    post,
    spawn,
)

from authsvc.accounts.passwords import PasswordHasher
from authsvc.config import Settings


def argon2_verification_seconds(samples: int = 30) -> float:
    """Median time of one verification with the service's default parameters."""
    settings = Settings()
    hasher = PasswordHasher.from_settings(settings)
    stored = hasher.hash_blocking(PASSWORD)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        hasher._argon2.verify(stored, PASSWORD)
        timings.append(time.perf_counter() - started)
    hasher.close()
    return statistics.median(timings)


# --- load generators (run in child processes) -------------------------------------------


async def flood(url: str, login: str, concurrency: int, seconds: float) -> dict[str, int]:
    """POST /login with the right password from `concurrency` keep-alive connections."""
    request = post(url, "/login", {"login": login, "password": PASSWORD})
    counts: dict[str, int] = (await http_loop(url, [request], concurrency, seconds))["counts"]
    return counts


async def probe(url: str, path: str, seconds: float, interval: float) -> list[float]:
    """Latencies (ms) of GET `path`, one request every `interval` seconds."""
    latencies = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await http.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(interval)
    return latencies


# --- the benchmark ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, url, *rest = args.child
        if kind == "flood":
            login, concurrency, seconds = rest
            print(json.dumps(asyncio.run(flood(url, login, int(concurrency), float(seconds)))))
        else:
            path, seconds, interval = rest
            print(json.dumps(asyncio.run(probe(url, path, float(seconds), float(interval)))))
        return

    cores = os.cpu_count() or 1
    one = argon2_verification_seconds()
    bound = cores / one
    print(f"cores: {cores}; one argon2 verification: {one * 1000:.1f} ms")
    print(f"argon2 bound: {bound:.1f} logins/s")

    # Embedded PostgreSQL in the server's own folder (so its memory counts in the RSS figures)
    # unless a server is configured; the argon2 parameters pass through, to measure
    # production settings.
    server = Server(configured_database_url(), pass_through=("AUTHSVC_ARGON2_",))
    try:
        server.start()
        login = f"bench-{secrets.token_hex(3)}"
        server.cli("accounts", "create", "--login", login, "--email", f"{login}@example.com",
                   stdin=PASSWORD)  # fmt: skip
        seconds = args.seconds
        # Warm up (connections, caches), then measure throughput and /healthz together.
        collect(spawn(__file__, "flood", server.url, login, str(cores * 2), "3"))
        load = spawn(__file__, "flood", server.url, login, str(cores * 4), str(seconds))
        health = spawn(__file__, "probe", server.url, "/healthz", str(seconds - 2), "0.02")
        counts = collect(load)
        latencies = collect(health)
        assert isinstance(counts, dict)
        assert isinstance(latencies, list)
        rate = counts.get("200", 0) / seconds
        print(f"login throughput: {rate:.1f}/s = {100 * rate / bound:.0f}% of the bound "
              f"(answers: {counts})")  # fmt: skip
        print(f"/healthz under login load: p50 {percentile(latencies, 0.5):.1f} ms, "
              f"p99 {percentile(latencies, 0.99):.1f} ms ({len(latencies)} probes)")  # fmt: skip

        # Flood: ten times the capacity in concurrent requests; watch resident memory.
        flood_concurrency = max(50, int(bound * 10))
        baseline = server.rss_bytes()
        peak = baseline
        flooding = spawn(__file__, "flood", server.url, login, str(flood_concurrency), str(seconds))
        while flooding.poll() is None:
            peak = max(peak, server.rss_bytes())
            time.sleep(0.2)
        flood_counts = collect(flooding)
        print(f"flood of {flood_concurrency} concurrent logins for {seconds:.0f} s: "
              f"answers {flood_counts}")  # fmt: skip
        print(f"server RSS: {baseline / 2**20:.0f} MiB idle, peak {peak / 2**20:.0f} MiB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
