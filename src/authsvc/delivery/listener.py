"""LISTEN on a dedicated asyncpg connection, so an idle worker wakes as soon as a
message commits instead of at its next poll.

The connection is separate from the SQLAlchemy pool: a pooled connection would carry
its LISTEN back into the pool. When it drops, the worker keeps polling while this
reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from authsvc.config import Settings
from authsvc.delivery.outbox import NOTIFY_CHANNEL

log = logging.getLogger("authsvc.delivery")


def connect_args(url: URL) -> dict[str, Any]:
    """asyncpg.connect() arguments for a SQLAlchemy URL.

    The embedded server is reached over a Unix socket given as `?host=/dir&port=N`.
    """
    query = {key: value for key, value in url.query.items() if isinstance(value, str)}
    port = query.get("port") or url.port
    args: dict[str, Any] = {
        "user": url.username,
        "password": url.password,
        "database": url.database,
        "host": query.get("host") or url.host,
        "port": int(port) if port else None,
        "ssl": query.get("ssl") or query.get("sslmode"),
        "server_settings": {"application_name": "authsvc-delivery-listener"},
    }
    return {key: value for key, value in args.items() if value is not None}


def listen_url(settings: Settings, database: URL) -> URL | None:
    """Where the worker LISTENs: the database it works on, or, behind a transaction
    pooler (which hands the session to another client after each transaction, LISTEN
    and all), PostgreSQL's own address; None: there is none, and the worker polls."""
    if not settings.transaction_pooled:
        return database
    if settings.database_direct_url is None:
        return None
    return make_url(settings.database_direct_url.get_secret_value())


def describe_wake(settings: Settings, url: URL | None) -> str:
    """How the worker learns of new messages, for its startup line."""
    if url is None:
        return (
            f"poll every {settings.delivery_poll_interval.total_seconds():g}s"
            " (transaction pooler and no AUTHSVC_DATABASE_DIRECT_URL: no LISTEN)"
        )
    where = "direct URL, past the pooler" if settings.transaction_pooled else "database URL"
    return f"LISTEN on {url.host or url.query.get('host')} ({where})"


async def listen(
    url: URL,
    on_notify: Callable[[], None],
    *,
    check_every: float,
    on_listening: Callable[[bool], None] = lambda listening: None,
) -> None:
    """Call `on_notify` for every NOTIFY (and after each reconnect); runs until cancelled.

    `on_listening(True/False)` follows whether NOTIFYs can currently arrive.
    """
    while True:
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(**connect_args(url), timeout=10)
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_: on_notify())
            on_listening(True)
            on_notify()  # anything committed while nobody was listening
            while True:
                await asyncio.sleep(check_every)
                # A silent network drop never closes the socket by itself: ask.
                await connection.fetchval("SELECT 1", timeout=check_every)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            log.warning("delivery listener lost its connection error=%s", type(error).__name__)
        finally:
            on_listening(False)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
        await asyncio.sleep(check_every)
