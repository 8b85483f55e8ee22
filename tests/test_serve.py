"""`authsvc serve` as a newcomer runs it: embedded PostgreSQL, real process, real port."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx
import psutil
from sqlalchemy import text

from authsvc.core.db import create_engine
from authsvc.ops.migrations import head_revision
from tests.cli import bare_env, run_cli
from tests.delivery.helpers import eventually
from tests.factories import PASSWORD, insert_session
from tests.util import free_port

ROOT = Path(__file__).resolve().parent.parent


def start_serve(env: dict[str, str], port: int, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "authsvc", "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_ready(process: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("authsvc serve did not become ready")


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop(process: subprocess.Popen[bytes], how: signal.Signals = signal.SIGTERM) -> None:
    process.send_signal(how)
    assert process.wait(timeout=30) == 0  # both are an orderly stop


def test_serve_on_the_embedded_default_gets_ready_keeps_data_and_stops_postgres(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    env = bare_env(tmp_path)
    env.pop("AUTHSVC_DATABASE_URL", None)
    port = free_port()

    process = start_serve(env, port)
    try:
        wait_ready(process, port)
        pg_pid = postmaster_pid(tmp_path)
        created = run_cli(
            "accounts", "create", "--login", "dora", "--email", "d@example.com",
            env=env, stdin=PASSWORD,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
    finally:
        stop(process)
    assert not is_running(pg_pid), "the embedded PostgreSQL outlived authsvc"

    # A second start reuses the data folder: same secret key, same account.
    key = (tmp_path / "secret_key").read_text()
    process = start_serve(env, port)
    try:
        wait_ready(process, port)
        pg_pid = postmaster_pid(tmp_path)
        listed = run_cli("accounts", "list", env=env)
        assert "dora" in listed.stdout
    finally:
        stop(process, signal.SIGINT)  # Ctrl-C stops the embedded server too
    assert not is_running(pg_pid), "the embedded PostgreSQL outlived authsvc"
    assert (tmp_path / "secret_key").read_text() == key


def test_serve_refuses_a_database_whose_schema_is_behind(
    cli_env: dict[str, str], database_url: str
) -> None:
    async def set_version(version: str) -> None:
        engine = create_engine(database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": version}
            )
        await engine.dispose()

    asyncio.run(set_version("0000"))
    try:
        results = [
            run_cli("serve", "--port", str(free_port()), env=cli_env),
            run_cli("accounts", "list", env=cli_env),
        ]
    finally:
        asyncio.run(set_version(head_revision()))
    for result in results:
        assert result.returncode == 1
        assert "authsvc migrate" in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_commands_work_on_a_fresh_embedded_data_folder_before_any_serve(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    env = bare_env(tmp_path)
    created = run_cli(
        "accounts", "create", "--login", "first", "--email", "f@example.com",
        env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stderr == ""  # no warnings or log noise for a newcomer
    assert "first" in run_cli("accounts", "list", env=env).stdout


def embedded_postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    return pid_file.exists() and is_running(postmaster_pid(data_dir))


def wait_until_stopped(data_dir: Path, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not embedded_postgres_running(data_dir):
            return True
        time.sleep(0.2)
    return False


def test_a_killed_serve_does_not_leave_its_embedded_postgres_running(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    env = bare_env(tmp_path)
    port = free_port()
    process = start_serve(env, port)
    try:
        wait_ready(process, port)
        assert embedded_postgres_running(tmp_path)
    finally:
        process.kill()  # no unwinding: only the watchdog can stop the server now
        process.wait(timeout=10)
    assert wait_until_stopped(tmp_path), "the embedded PostgreSQL outlived a killed authsvc"


def test_a_stale_handle_from_an_unclean_stop_is_cleaned(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    env = bare_env(tmp_path)
    assert run_cli("accounts", "list", env=env).returncode == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    handles = tmp_path / "pgdata" / ".handle_pids.json"
    handles.write_text(json.dumps([dead.pid]))  # as a killed command would have left it
    listed = run_cli("accounts", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert wait_until_stopped(tmp_path, timeout=5), "a stale handle kept PostgreSQL running"


def test_dev_py_passes_ctrl_c_on_without_a_traceback_and_says_what_it_runs(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    env = bare_env(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(process, port)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    start = next(line for line in log.splitlines() if "starting mode=" in line)
    assert "mode=dev" in start and f"database=embedded:{tmp_path / 'pgdata'}" in start
    assert "email=console sms=console" in start and f"listen=http://127.0.0.1:{port}" in start
    assert wait_until_stopped(tmp_path, timeout=5)


def test_the_dev_terminal_reads_cleanly_without_colour_codes_or_repeated_fields(
    cli_env: dict[str, str],
) -> None:
    env = {**cli_env, "AUTHSVC_LOG_FORMAT": "text"}  # as `dev.py serve` prints
    port = free_port()
    process = start_serve(env, port)
    try:
        wait_ready(process, port)
        httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"user-agent": "probe/1"})
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    # uvicorn's own lines come with an ANSI-coloured copy of the message for its formatter.
    assert "Uvicorn running on" in log
    assert "\x1b" not in log and "color_message" not in log
    assert "uvicorn.error" not in log  # its name for every line, errors or not
    access = next(line for line in log.splitlines() if "/healthz" in line)
    assert " INFO authsvc.access [" in access
    assert access.split("] ", 1)[1].startswith("GET /healthz 200 ")
    assert "user_agent=probe/1" in access  # what the message does not say
    for repeated in ("method=", "route=", "status=", "duration_ms="):
        assert repeated not in access, access


# --- SIGTERM: readiness 503 first, then uvicorn's graceful stop --------------------------

DRAIN_SECONDS = 3


async def _readyz_status(port: int) -> int:
    async with httpx.AsyncClient(timeout=2) as http:
        return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code


async def _refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_sigterm_turns_readiness_503_while_serving_then_finishes_in_flight_and_exits_0(
    cli_env: dict[str, str], database_url: str
) -> None:
    token = await insert_session(database_url, "drain-serve")
    env = {**cli_env, "AUTHSVC_SHUTDOWN_DRAIN": str(DRAIN_SECONDS)}
    port = free_port()
    process = start_serve(env, port)
    try:
        await asyncio.to_thread(wait_ready, process, port)
        # A request in flight at SIGTERM: its headers and half its body are sent.
        body = json.dumps({"login": "nobody-here", "password": "not the password"}).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        await writer.drain()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            assert (await http.get("/healthz")).status_code == 200
            process.send_signal(signal.SIGTERM)
            terminated = time.monotonic()
            await eventually(lambda: _is(_readyz_status(port), 503), within=1)
            ready = await http.get("/readyz")
            assert ready.headers["content-type"] == "application/problem+json"
            assert ready.json()["code"] == "not_ready"
            assert "Shutting down" in ready.json()["detail"]
            # Everything else is still served as usual.
            assert (await http.get("/healthz")).status_code == 200
            session = await http.get("/session", headers={"authorization": f"Bearer {token}"})
            assert session.status_code == 200, session.text
            assert process.poll() is None
            assert time.monotonic() - terminated < DRAIN_SECONDS, "checked inside the drain"
        # The drain over, uvicorn stops accepting but waits for the request in flight...
        await eventually(lambda: _refuses_connections(port), within=DRAIN_SECONDS + 3)
        assert process.poll() is None
        writer.write(body[10:])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # to the close
        writer.close()
        assert answer.startswith(b"HTTP/1.1 401 "), answer  # ...which gets its answer
        assert b'"code":"invalid_credentials"' in answer
        code = await asyncio.to_thread(process.wait, 15)
    finally:
        if process.poll() is None:
            process.kill()
    log = process.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 0, log
    assert time.monotonic() - terminated >= DRAIN_SECONDS
    assert "event=shutdown_draining" in log
    assert "Traceback" not in log


async def _is(status: Awaitable[int], expected: int) -> bool:
    return await status == expected


def test_ctrl_c_does_not_wait_for_the_drain(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "AUTHSVC_SHUTDOWN_DRAIN": "60"}
    port = free_port()
    process = start_serve(env, port)
    try:
        wait_ready(process, port)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - interrupted < 10
    assert "shutdown_draining" not in process.stderr.read().decode()  # type: ignore[union-attr]


async def test_with_workers_the_supervisor_drains_every_worker(cli_env: dict[str, str]) -> None:
    env = {
        **cli_env,
        "AUTHSVC_SHUTDOWN_DRAIN": str(DRAIN_SECONDS),
        "AUTHSVC_RUN_DELIVERY_WORKER": "false",
    }
    port = free_port()
    process = start_serve(env, port, "--workers", "2")
    try:
        await asyncio.to_thread(wait_ready, process, port)
        process.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        await eventually(lambda: _is(_readyz_status(port), 503), within=1.5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            # One connection each: the kernel spreads them over both workers.
            statuses = [(await http.get("/readyz", headers={"connection": "close"})).status_code
                        for _ in range(10)]  # fmt: skip
            assert statuses == [503] * 10
            assert (await http.get("/healthz")).status_code == 200
        assert time.monotonic() - terminated < DRAIN_SECONDS, "checked inside the drain"
        code = await asyncio.to_thread(process.wait, 20)
    finally:
        if process.poll() is None:
            process.kill()
    log = process.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 0, log
    assert time.monotonic() - terminated >= DRAIN_SECONDS
    assert log.count("event=shutdown_draining") == 1  # said once, by the supervisor
