"""`authsvc serve --workers 2` as a real subprocess: every worker logs like a single
process does, and /metrics gives the same totals whichever worker answers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx

from authsvc.context import ServiceContext
from tests.cli import run_cli
from tests.factories import PASSWORD
from tests.test_serve import wait_ready
from tests.util import free_port

FAILURES = 3  # the client IP's free failures: no back-off in the way


def test_two_workers_log_every_request_and_agree_on_the_metrics(
    ctx: ServiceContext, cli_env: dict[str, str]
) -> None:
    env = cli_env | {"AUTHSVC_LOG_FORMAT": "json"}
    created = run_cli(
        "accounts", "create", "--login", "multi", "--email", "m@example.com",
        env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "authsvc", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, port)
        with httpx.Client(base_url=url, timeout=10) as http:
            for n in range(FAILURES):
                wrong = {"login": f"nobody-{n}", "password": "wrong"}
                assert http.post("/login", json=wrong).status_code == 401
            assert http.post("/login", json={"login": "multi", "password": PASSWORD}).is_success
        # Bursts of concurrent scrapes on fresh connections: an idle listener hands every
        # connection to one worker; while it is busy, the other takes its share.
        with ThreadPoolExecutor(16) as pool:
            scrapes = list(pool.map(_scrape, [url] * 64))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    failed = [line for line in lines if line.get("event") == "password_failed"]
    assert len(failed) == FAILURES
    assert all(line["request_id"] and line["ip"] == "127.0.0.1" for line in failed)
    logins = [line for line in lines if line.get("route") == "/login"]
    assert len(logins) == FAILURES + 1
    assert {line["pid"] for line in logins} != {process.pid}  # workers, not the parent
    pattern = re.compile(
        r'^authsvc_auth_events_total\{event="password_failed",outcome="failure"\} (\S+)$', re.M
    )
    answered_by = {
        line["request_id"]: line["pid"] for line in lines if line.get("route") == "/metrics"
    }
    assert len({answered_by[request_id] for request_id, _ in scrapes}) == 2, "one worker only"
    totals = {float(pattern.search(text).group(1)) for _, text in scrapes}  # type: ignore[union-attr]
    assert totals == {float(FAILURES)}


def _scrape(url: str) -> tuple[str, str]:
    with httpx.Client(timeout=10) as http:
        response = http.get(f"{url}/metrics", headers={"connection": "close"})
    return response.headers["x-request-id"], response.text
