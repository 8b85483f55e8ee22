"""Session rules: a fresh random token per login, idle and absolute timeouts, revocation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.config import Settings
from authsvc.context import ServiceContext
from authsvc.core.crypto import random_token, token_digest
from authsvc.ops.events import auth_event
from authsvc.sessions import repository
from authsvc.sessions.errors import SessionNotFound
from authsvc.sessions.models import UserSession
from authsvc.sessions.rules import absolute_expiry, idle_expiry


@dataclass(frozen=True)
class NewSession:
    token: str  # shown to the client once, never stored
    record: UserSession


async def start_session(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    now: datetime,
    settings: Settings,
    ip: str,
    user_agent: str,
) -> NewSession:
    new = new_session(account_id=account_id, now=now, settings=settings, ip=ip,
                      user_agent=user_agent)  # fmt: skip
    await repository.insert(session, new.record)
    return new


def new_session(
    *, account_id: uuid.UUID, now: datetime, settings: Settings, ip: str, user_agent: str
) -> NewSession:
    """A session's token and row, not yet written (`start_session` writes it; the login
    writes it together with its other rows)."""
    token = random_token(32)  # 256 bits
    expires_at = absolute_expiry(now, settings)
    record = UserSession(
        id=uuid.uuid4(),
        token_hash=token_digest(token),
        account_id=account_id,
        created_at=now,
        last_seen_at=now,
        idle_expires_at=idle_expiry(now, settings.session_idle_timeout, expires_at),
        expires_at=expires_at,
        ip=ip,
        user_agent=user_agent[:512],
    )
    return NewSession(token=token, record=record)


async def authenticate(
    ctx: ServiceContext, token: str, *, ip: str
) -> tuple[UserSession, Account] | None:
    """The live session for `token` and its account, or None.

    One statement, atomic alone, so it runs in autocommit: a check costs one round trip
    and writes only when the session's use is due (once per touch interval); that write
    stays whatever the request does next, as the use it records happened.
    """
    settings = ctx.settings
    found = await repository.find_live(
        ctx.db, token_digest(token), now=ctx.clock.now(),
        idle_timeout=settings.session_idle_timeout,
        touch_interval=settings.session_touch_interval,
    )  # fmt: skip
    if found is None:
        # Expired, ended or unknown: which, the token's hash alone cannot say cheaply.
        auth_event("session_rejected", outcome="refused", ip=ip)
    return found


async def end_session(
    session: AsyncSession, user_session: UserSession, *, now: datetime, ip: str
) -> None:
    await repository.revoke(session, user_session.id, now=now)
    auth_event("logout", outcome="success", ip=ip, account=user_session.account_id)


async def list_sessions(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime
) -> Sequence[UserSession]:
    """The account's live sessions, most recently used first."""
    return await repository.list_live(session, account_id, now=now)


async def revoke_session(
    session: AsyncSession, current: UserSession, session_id: uuid.UUID, *, now: datetime, ip: str
) -> None:
    """End one of the account's own sessions (the current one too, like a logout).

    A session of another account is not found, exactly like an unknown one. Every
    replica refuses it at its next request: sessions are looked up on every request.
    """
    if not await repository.revoke_owned(session, current.account_id, session_id, now=now):
        raise SessionNotFound()
    auth_event(
        "session_revoked", outcome="success", ip=ip, account=current.account_id,
        current=session_id == current.id,
    )  # fmt: skip


async def revoke_other_sessions(
    session: AsyncSession, current: UserSession, *, now: datetime, ip: str
) -> int:
    ended = await repository.revoke_all(session, current.account_id, now=now, keep=current.id)
    auth_event(
        "sessions_revoked", outcome="success", ip=ip, account=current.account_id, count=ended
    )
    return ended


async def mark_reauthenticated(
    session: AsyncSession, user_session: UserSession, *, now: datetime
) -> None:
    """Open the re-authentication window of this session (the password was just confirmed)."""
    await repository.mark_reauthenticated(session, user_session.id, now=now)
