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
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from authsvc.accounts.passwords import PasswordHasher
from authsvc.config import Settings

PASSWORD = "benchmark password that is long enough"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`authsvc serve` in a subprocess with its own data folder."""

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="authsvc-bench-"))
        self.data_dir.chmod(0o755)
        self.port = free_port()
        # The argon2 parameters pass through, to measure production settings.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AUTHSVC_") or k.startswith("AUTHSVC_ARGON2_")
        }
        self.env.update(
            AUTHSVC_DATA_DIR=str(self.data_dir),
            AUTHSVC_EMAIL_PROVIDER="console",
            AUTHSVC_SMS_PROVIDER="console",
            AUTHSVC_LOG_LEVEL="warning",
            # Measure the login path itself; the delivery worker has its own benchmark.
            AUTHSVC_RUN_DELIVERY_WORKER="false",
        )
        if url := os.environ.get("AUTHSVC_TEST_DATABASE_URL"):
            self.env.update(AUTHSVC_DATABASE_URL=url, AUTHSVC_ENV="dev")
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str = "") -> None:
        subprocess.run(
            [sys.executable, "-m", "authsvc", *args],
            env=self.env,
            input=stdin.encode(),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        command = [sys.executable, "-m", "authsvc", "serve", "--port", str(self.port), "--migrate"]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit("authsvc serve did not become ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --- load generators (run in child processes) -------------------------------------------


async def flood(url: str, login: str, concurrency: int, seconds: float) -> dict[str, int]:
    """POST /login with the right password from `concurrency` keep-alive connections.

    A bare HTTP/1.1 client: on a 2-core machine the load generator shares the CPUs with
    the server, so it must cost next to nothing per request.
    """
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"login": login, "password": PASSWORD}).encode()
    request = (
        f"POST /login HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                status = (await reader.readline()).split(b" ")[1].decode()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                counts[status] = counts.get(status, 0) + 1
        except (OSError, IndexError, asyncio.IncompleteReadError) as error:
            counts[type(error).__name__] = counts.get(type(error).__name__, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
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


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)


def collect(process: subprocess.Popen[str]) -> object:
    out, _ = process.communicate(timeout=600)
    return json.loads(out)


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

    server = Server()
    try:
        server.start()
        login = f"bench-{secrets.token_hex(3)}"
        server.cli("accounts", "create", "--login", login, "--email", f"{login}@example.com",
                   stdin=PASSWORD)  # fmt: skip
        seconds = args.seconds
        # Warm up (connections, caches), then measure throughput and /healthz together.
        collect(spawn("--child", "flood", server.url, login, str(cores * 2), "3"))
        load = spawn("--child", "flood", server.url, login, str(cores * 4), str(seconds))
        health = spawn("--child", "probe", server.url, "/healthz", str(seconds - 2), "0.02")
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
        flooding = spawn(
            "--child", "flood", server.url, login, str(flood_concurrency), str(seconds)
        )
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
