"""Queries on support keys and the verification audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.support.models import SupportKey, Verification


async def insert_key(session: AsyncSession, key: SupportKey) -> None:
    session.add(key)
    await session.flush()


async def get_key_by_digest(session: AsyncSession, digest: bytes) -> SupportKey | None:
    query = select(SupportKey).where(SupportKey.key_digest == digest)
    return (await session.execute(query)).scalar_one_or_none()


async def list_keys(session: AsyncSession) -> Sequence[SupportKey]:
    return (
        (await session.execute(select(SupportKey).order_by(SupportKey.created_at))).scalars().all()
    )


async def revoke_key(session: AsyncSession, name: str, *, now: datetime) -> SupportKey | None:
    """Revoke by name; an already revoked key keeps its first revocation time."""
    key = (
        await session.execute(select(SupportKey).where(SupportKey.name == name).with_for_update())
    ).scalar_one_or_none()
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


async def record_verification(
    session: AsyncSession,
    *,
    verified_at: datetime,
    support_key_id: uuid.UUID,
    account_id: uuid.UUID | None,
    auth_code_id: uuid.UUID | None,
    result: str,
    purpose: str | None,
    client_ip: str,
) -> None:
    await session.execute(
        insert(Verification).values(
            verified_at=verified_at,
            support_key_id=support_key_id,
            account_id=account_id,
            auth_code_id=auth_code_id,
            result=result,
            purpose=purpose,
            client_ip=client_ip,
        )
    )


@dataclass(frozen=True)
class HistoryEntry:
    verified_at: datetime
    result: str
    purpose: str | None
    support_client: str


async def history(
    session: AsyncSession, account_id: uuid.UUID, *, limit: int
) -> list[HistoryEntry]:
    query = (
        select(Verification.verified_at, Verification.result, Verification.purpose, SupportKey.name)
        .outerjoin(SupportKey, SupportKey.id == Verification.support_key_id)
        .where(Verification.account_id == account_id)
        .order_by(Verification.verified_at.desc(), Verification.id.desc())
        .limit(limit)
    )
    return [
        HistoryEntry(verified_at=at, result=result, purpose=purpose, support_client=name or "?")
        for at, result, purpose, name in (await session.execute(query)).all()
    ]
