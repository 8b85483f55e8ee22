"""Small factories: each test states only what matters to it."""

from __future__ import annotations

import secrets
import uuid

import asyncpg

from authsvc.accounts import service as accounts
from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.crypto import random_token, token_digest
from tests.conftest import plain_dsn

PASSWORD = "correct horse battery staple"


async def make_account(
    ctx: ServiceContext,
    *,
    login: str | None = None,
    password: str = PASSWORD,
    email: str | None = None,
    phone: str | None = None,
    channel: str = "email",
    locale: str = "en",
    disabled: bool = False,
) -> Account:
    login = login or f"user-{secrets.token_hex(4)}"
    async with ctx.db.transaction() as session:
        account = await accounts.create_account(
            session,
            login=login,
            email=email or f"{login}@example.com",
            phone=phone,
            channel=channel,
            locale=locale,
            password_hash=await ctx.hasher.hash(password),
            now=ctx.clock.now(),
            sms_countries=ctx.settings.sms_countries,
        )
        account.disabled = disabled
    return account


async def insert_session(database_url: str, login: str) -> str:
    """An account and a live session for it, written directly (for a service running in
    another process); the token."""
    token = random_token(32)
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        account_id = await connection.fetchval(
            """
            INSERT INTO accounts (id, login, password_hash, email, channel, locale, disabled,
                                  created_at, updated_at)
            VALUES (gen_random_uuid(), $1::text, 'x', $1::text || '@example.com', 'email',
                    'en', false, now(), now())
            RETURNING id
            """,
            login,
        )
        await connection.execute(
            """
            INSERT INTO sessions (id, token_hash, account_id, created_at, last_seen_at,
                                  idle_expires_at, expires_at, ip, user_agent)
            VALUES ($1, $2, $3, now(), now(), now() + interval '30 minutes',
                    now() + interval '12 hours', '127.0.0.1', 'cluster test')
            """,
            uuid.uuid4(),
            token_digest(token),
            account_id,
        )
    finally:
        await connection.close()
    return token
