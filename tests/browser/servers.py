"""The real processes and servers around the browser: authsvc, SMTP, SMS gateway, a web server.

Each runs in its own thread or process, so the synchronous Playwright API can drive
Chromium in the test's thread while they answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from authsvc.core.db import create_engine
from authsvc.ops.migrations import upgrade
from authsvc.pages import STATIC_DIR, content_security_policy
from authsvc.pages.routes import MOUNTS
from tests.conftest import make_settings, plain_dsn
from tests.delivery.fakes import SmtpSink
from tests.test_serve import wait_ready

# --- database -------------------------------------------------------------------------


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A database of the browser tests' own, migrated; dropped afterwards.

    Its own, so the service process under test never shares rows with the rest of the suite.
    """
    name = f"authsvc_browser_{secrets.token_hex(4)}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)

    async def create() -> None:
        admin = await asyncpg.connect(plain_dsn(server_url))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        engine = create_engine(url, pool_size=1)
        await upgrade(engine)
        await engine.dispose()

    async def drop() -> None:
        admin = await asyncpg.connect(plain_dsn(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    try:
        yield url
    finally:
        asyncio.run(drop())


def create_accounts(database_url: str, accounts: list[dict[str, Any]]) -> None:
    """Accounts straight through the service layer (the CLI would start a process each)."""
    from authsvc.context import ServiceContext
    from tests.factories import make_account

    async def create() -> None:
        ctx = ServiceContext.build(make_settings(), database_url)
        try:
            for account in accounts:
                await make_account(ctx, **account)
        finally:
            await ctx.close()

    asyncio.run(create())


# --- authsvc ----------------------------------------------------------------------------


class Authsvc:
    """`python -m authsvc serve` as a real process."""

    def __init__(self, env: dict[str, str], port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        # Where the pages are opened (it listens on 127.0.0.1; localhost reaches that too).
        self.origin = f"http://{host}:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "authsvc", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        wait_ready(self.process, self.port, timeout)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- e-mail -----------------------------------------------------------------------------

# The login code stands alone on an indented line of the text part, in both languages.
_OTP_LINE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)


class Mailbox:
    """Reads login (and password reset) codes from what the real SMTP server received."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink
        self._taken: dict[str, int] = {}

    def _codes(self, address: str) -> list[str]:
        codes = []
        for received in list(self.sink.messages):
            if address not in received.rcpt_tos:
                continue
            body = received.message.get_body(preferencelist=("plain",))
            match = _OTP_LINE.search(body.get_content()) if body is not None else None
            if match:
                codes.append(match.group(1))
        return codes

    def next_code(self, address: str, timeout: float = 10) -> str:
        """The first login code to `address` not taken before; waits for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = self._codes(address)
            taken = self._taken.get(address, 0)
            if len(codes) > taken:
                self._taken[address] = len(codes)
                return codes[-1]
            time.sleep(0.05)
        raise AssertionError(f"no new login code for {address} within {timeout} s")

    def count(self, address: str) -> int:
        return len(self._codes(address))

    def last_match(self, address: str, pattern: re.Pattern[str], timeout: float = 10) -> str:
        """`pattern`'s match in the newest text part to `address` that has one (a link);
        waits for such a message to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for received in reversed(list(self.sink.messages)):
                if address not in received.rcpt_tos:
                    continue
                body = received.message.get_body(preferencelist=("plain",))
                match = pattern.search(body.get_content()) if body is not None else None
                if match:
                    return match.group(0)
            time.sleep(0.05)
        raise AssertionError(f"no message to {address} matching {pattern.pattern} in {timeout} s")


# --- SMS gateway --------------------------------------------------------------------------

_SMS_CODE = re.compile(r"\b(\d{6})\b")


class SmsGateway:
    """The generic webhook: 202 for a good request, 500 for numbers in `failing`."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.failing: set[str] = set()
        self.received: list[dict[str, Any]] = []
        self._taken: dict[str, int] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                payload = json.loads(body)
                gateway.received.append(payload)
                if self.headers.get("authorization") != f"Bearer {gateway.token}":
                    status = 401
                elif payload.get("to") in gateway.failing:
                    status = 500
                else:
                    status = 202
                data = b'{"ok": true}' if status == 202 else b'{"error": "down"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_code(self, number: str, timeout: float = 10) -> str:
        """The code of the first SMS to `number` not taken before; waits for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = [sms["text"] for sms in list(self.received) if sms.get("to") == number]
            # Notices (a new sign-in, a changed password) carry no code: skip them.
            codes = [match.group(1) for text in texts if (match := _SMS_CODE.search(text))]
            taken = self._taken.get(number, 0)
            if len(codes) > taken:
                self._taken[number] = len(codes)
                return codes[-1]
            time.sleep(0.05)
        raise AssertionError(f"no new SMS to {number} within {timeout} s")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the panel on another origin ------------------------------------------------------------

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


class StaticSite:
    """The same page files on another origin, configured to call the API at `api_origin`.

    What a team hosting the panel elsewhere does: serve the files, set the `authsvc-api`
    meta tag, and allow the API's origin in connect-src.
    """

    def __init__(self, api_origin: str, port: int) -> None:
        csp = content_security_policy([api_origin])
        folders = {prefix + "/": STATIC_DIR / folder for prefix, folder in MOUNTS.items()}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                file = None
                for prefix, folder in folders.items():
                    if path.startswith(prefix):
                        name = path[len(prefix) :] or "index.html"
                        candidate = (folder / name).resolve()
                        if candidate.is_file() and candidate.is_relative_to(folder):
                            file = candidate
                if file is None:
                    self.send_error(404)
                    return
                data = file.read_bytes()
                if file.suffix == ".html":
                    data = data.replace(
                        b'<meta name="authsvc-api" content="">',
                        f'<meta name="authsvc-api" content="{api_origin}">'.encode(),
                    )
                self.send_response(200)
                self.send_header("Content-Type", _TYPES.get(file.suffix, "text/plain"))
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Security-Policy", csp)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.origin = f"http://127.0.0.1:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
