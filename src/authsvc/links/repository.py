"""Queries on action links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.links.models import ActionLink


async def insert(session: AsyncSession, link: ActionLink) -> None:
    session.add(link)
    await session.flush()


async def find(session: AsyncSession, token_hashes: Sequence[bytes]) -> ActionLink | None:
    query = select(ActionLink).where(ActionLink.token_hash.in_(token_hashes))
    return (await session.execute(query)).scalars().first()


async def mark_used(
    session: AsyncSession, token_hashes: Sequence[bytes], *, now: datetime
) -> ActionLink | None:
    statement = (
        update(ActionLink)
        .where(
            ActionLink.token_hash.in_(token_hashes),
            ActionLink.used_at.is_(None),
            ActionLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(ActionLink)
    )
    return (await session.execute(statement)).scalars().first()
