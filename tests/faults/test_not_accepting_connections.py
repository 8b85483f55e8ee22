"""A PostgreSQL that is up but refuses connections (SQLSTATE 57P03: starting, shutting
down, a standby that takes none) or is out of slots (53300): every database-backed
request is a 503 database_unavailable with Retry-After, never a 500, and /readyz says 503.

The server here speaks just enough of the PostgreSQL protocol to answer the startup
message with the ErrorResponse a real server sends in those states; asyncpg then raises
CannotConnectNowError or TooManyConnectionsError exactly as it would against PostgreSQL.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from authsvc.context import ServiceContext
from tests.conftest import make_client
from tests.faults.helpers import assert_problem
from tests.test_database_outage import own_context

pytestmark = pytest.mark.slow

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
NO_CHALLENGE = "00000000-0000-4000-8000-000000000000"


class RefusingPostgres:
    """Answers every connection's startup with a FATAL error of the given SQLSTATE."""

    def __init__(self, sqlstate: str, message: str) -> None:
        self.sqlstate = sqlstate
        self.message = message
        self.startups = 0
        self.port = 0

    def error_response(self) -> bytes:
        fields = b"".join(
            tag + value.encode() + b"\0"
            for tag, value in (
                (b"S", "FATAL"),
                (b"V", "FATAL"),
                (b"C", self.sqlstate),
                (b"M", self.message),
            )
        )
        payload = fields + b"\0"
        return b"E" + struct.pack("!I", len(payload) + 4) + payload

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!I", await reader.readexactly(4))
                body = await reader.readexactly(length - 4)
                (code,) = struct.unpack("!I", body[:4])
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    writer.write(b"N")  # no encryption here; the startup message follows
                    await writer.drain()
                    continue
                self.startups += 1
                writer.write(self.error_response())
                await writer.drain()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield f"postgresql+asyncpg://authsvc@127.0.0.1:{self.port}/authsvc"
        finally:
            server.close()
            await server.wait_closed()


def assert_database_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("57P03", "the database system is shutting down"),
        ("57P03", "the database system is not accepting connections"),
        ("53300", "sorry, too many clients already"),
        ("53300", "remaining connection slots are reserved for roles with the SUPERUSER attribute"),
    ],
)
async def test_a_server_that_refuses_connections_gives_503_on_every_database_endpoint(
    ctx: ServiceContext, sqlstate: str, message: str
) -> None:
    refusing = RefusingPostgres(sqlstate, message)
    async with (
        refusing.running() as url,
        own_context(ctx, url) as own,
        make_client(own) as http,
    ):
        bearer = {"authorization": "Bearer " + "t" * 43}
        support = {"authorization": "Bearer asv_" + "k" * 43}
        verify = {"challenge_id": NO_CHALLENGE, "code": "123456"}
        checks = [
            await http.post("/login", json={"login": "anyone", "password": "x" * 12}),
            await http.post("/login/verify", json=verify),
            await http.post("/login/resend", json={"challenge_id": NO_CHALLENGE}),
            await http.get(f"/login/challenges/{NO_CHALLENGE}"),
            await http.get("/session", headers=bearer),
            await http.get("/auth-codes/current", headers=bearer),
            await http.post(
                "/auth-codes/verify",
                json={"customer": "anyone", "code": "123456"},
                headers=support,
            ),
        ]
        for response in checks:
            assert_database_unavailable(response)
        assert_problem(await http.get("/readyz"), 503, "not_ready")
        assert (await http.get("/healthz")).status_code == 200
    assert refusing.startups >= len(checks)  # each went all the way to the server


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("3D000", 'database "authsvc" does not exist'),
        ("28P01", 'password authentication failed for user "authsvc"'),
    ],
)
async def test_a_server_that_refuses_us_for_good_is_a_500_without_internals(
    ctx: ServiceContext, sqlstate: str, message: str
) -> None:
    """Misconfiguration is not "away for now": the rest stays a logged 500, still a
    problem+json body that names nothing of the server."""
    refusing = RefusingPostgres(sqlstate, message)
    async with (
        refusing.running() as url,
        own_context(ctx, url) as own,
        make_client(own) as http,
    ):
        response = await http.post("/login", json={"login": "anyone", "password": "x" * 12})
    assert_problem(response, 500, "internal_error")
    assert message not in response.text and sqlstate not in response.text
