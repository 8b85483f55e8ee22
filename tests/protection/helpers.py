"""What the customer receives, read from the outbox as the worker would send it."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from authsvc.context import ServiceContext
from authsvc.delivery import outbox
from authsvc.delivery.models import OutboxMessage


async def sent(
    ctx: ServiceContext, template: str, account_id: uuid.UUID | None = None
) -> list[dict[str, str]]:
    """The parameters (secrets opened) of every `template` message, oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.template == template)
    if account_id is not None:
        query = query.where(OutboxMessage.account_id == account_id)
    async with ctx.db.transaction() as session:
        rows = (await session.execute(query.order_by(OutboxMessage.created_at))).scalars().all()
        found = []
        for row in rows:
            params = await outbox.read_params(session, ctx.keyring, row.id)
            assert params is not None
            found.append({**params, "_channel": row.channel})
        return found


async def not_me_path(ctx: ServiceContext, template: str, account_id: uuid.UUID) -> str:
    """The path of the "this wasn't me" link in the latest `template` e-mail."""
    url = (await sent(ctx, template, account_id))[-1]["not_me_url"]
    return url.removeprefix(ctx.settings.public_url or "")
