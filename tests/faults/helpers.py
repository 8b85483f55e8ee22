"""Shared plumbing of the fault suite: problem checks and `authsvc serve` as a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
# Words that would betray internals in a response body.
INTERNALS = ("Traceback", "asyncpg", "sqlalchemy", "psycopg", "SELECT", "INSERT", 'File "')


def assert_problem(
    response: httpx.Response, status: int | None = None, code: str | None = None
) -> dict[str, object]:
    """A problem+json body with a stable code and nothing of the server's insides."""
    assert response.headers.get("content-type") == PROBLEM_JSON, response.text
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == response.status_code
    assert isinstance(body["code"], str) and body["code"].isidentifier()
    if status is not None:
        assert response.status_code == status, response.text
    if code is not None:
        assert body["code"] == code, body
    for word in INTERNALS:
        assert word not in response.text, response.text
    return body


def assert_client_error(response: httpx.Response) -> dict[str, object]:
    """Any 4xx problem: the client's fault, never the server's."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    return assert_problem(response)


@contextmanager
def serving(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`authsvc serve` on `port` until the block ends; its logs go to a file, not a pipe
    that could fill up and stall it."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "authsvc", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(process, port, log)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"authsvc serve did not become ready:\n{log.read_text()}")
