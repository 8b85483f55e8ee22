"""Small factories: each test states only what matters to it."""

from __future__ import annotations

import secrets

from authsvc.accounts import service as accounts
from authsvc.accounts.models import Account
from authsvc.context import ServiceContext

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
