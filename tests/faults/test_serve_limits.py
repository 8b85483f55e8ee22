"""Huge and hostile bodies against the real `authsvc serve` (uvicorn, real sockets):
413 before the body is read, announced or chunked, and the service keeps serving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authsvc.context import ServiceContext
from tests.factories import PASSWORD, make_account
from tests.faults.helpers import assert_problem, serving
from tests.util import free_port

pytestmark = pytest.mark.slow

LIMIT = 64 * 1024
CHUNK = 16 * 1024


@pytest.fixture
def port(cli_env: dict[str, str], tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with serving(cli_env, port, tmp_path / "serve.log"):
        yield port


async def read_response(reader: asyncio.StreamReader) -> httpx.Response:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    length = int({k.lower(): v for k, v in headers.items()}["content-length"])
    body = await reader.readexactly(length)
    return httpx.Response(status, headers=headers, content=body)


async def test_an_announced_huge_body_is_refused_before_it_is_sent(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: authsvc\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )
        await writer.drain()
        # Not one byte of the body was sent: the answer comes from the headers alone.
        response = await asyncio.wait_for(read_response(reader), 5)
    finally:
        writer.close()
    assert_problem(response, 413, "payload_too_large")


async def test_a_chunked_endless_body_is_cut_off_at_the_limit(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(read_response(reader))
    sent = 0
    try:
        writer.write(
            # /login reads a body from anyone (/auth-codes/verify checks the key first).
            b"POST /login HTTP/1.1\r\nHost: authsvc\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
        # Up to 1 GB; the server answers long before (socket buffers hold a few MB at most).
        while not answer.done() and sent < 1024**3:
            writer.write(chunk)
            sent += CHUNK
            try:
                await writer.drain()
            except ConnectionError:
                break  # the server closed the connection after its answer
        response = await asyncio.wait_for(answer, 5)
    finally:
        writer.close()
    assert_problem(response, 413, "payload_too_large")
    assert sent < 64 * 1024**2, sent


async def test_hostile_bodies_over_real_sockets_are_4xx_and_serving_goes_on(
    port: int, ctx: ServiceContext
) -> None:
    await make_account(ctx, login="after-the-storm")
    hostile = [
        b'{"login": "jan\\u0000", "password": "x"}',
        b'{"login": "jan\\ud800", "password": "x"}',
        b'{"login": "\xff\xfe", "password": "x"}',
        b"[" * 10_000 + b"]" * 10_000,
        json.dumps({"login": "x" * 60_000, "password": "x"}).encode(),
        json.dumps({"login": ["jan"], "password": 1}).encode(),
        b"{" * 70_000,
    ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        for content in hostile:
            response = await http.post(
                "/login", content=content, headers={"content-type": "application/json"}
            )
            assert 400 <= response.status_code < 500, response.text
            assert_problem(response)
        assert (await http.get("/healthz")).status_code == 200
        login = await http.post("/login", json={"login": "after-the-storm", "password": PASSWORD})
        assert login.status_code == 200, login.text
