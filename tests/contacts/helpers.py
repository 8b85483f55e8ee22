"""Steps of the contact-change flow, for tests: the code read from the outbox as the
customer would read it at the new address."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from authsvc.accounts.models import Account
from authsvc.contacts.models import ContactChange
from authsvc.context import ServiceContext
from authsvc.delivery import outbox
from authsvc.delivery.models import OutboxMessage


async def code_message(ctx: ServiceContext, account_id: uuid.UUID) -> OutboxMessage:
    """The latest code message of the account's contact changes (move the clock between
    two requests: messages written at one instant have no order)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.template == "contact_code", OutboxMessage.account_id == account_id)
        .order_by(OutboxMessage.created_at.desc())
    )
    async with ctx.db.transaction() as session:
        found = (await session.execute(query)).scalars().first()
    assert found is not None, "no code was sent"
    return found


async def read_code(ctx: ServiceContext, account_id: uuid.UUID) -> str:
    message = await code_message(ctx, account_id)
    async with ctx.db.transaction() as session:
        params = await outbox.read_params(session, ctx.keyring, message.id)
    assert params is not None
    return params["code"]


async def account_row(ctx: ServiceContext, account_id: uuid.UUID) -> Account:
    async with ctx.db.transaction() as session:
        found = await session.get(Account, account_id)
        assert found is not None
        return found


async def changes_count(ctx: ServiceContext) -> int:
    async with ctx.db.transaction() as session:
        return int((await session.execute(select(func.count(ContactChange.id)))).scalar_one())


async def confirm(
    client: httpx.AsyncClient, kind: str, change_id: object, code: str, headers: dict[str, str]
) -> httpx.Response:
    body = {"change_id": change_id, "code": code}
    return await client.post(f"/account/{kind}/confirm", json=body, headers=headers)
