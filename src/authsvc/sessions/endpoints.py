from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from authsvc.sessions import service
from authsvc.sessions.dependencies import (
    SESSION_REFUSALS,
    SESSION_REFUSALS_UNSAFE,
    CurrentSession,
)
from authsvc.sessions.devices import describe
from authsvc.sessions.errors import SessionNotFound
from authsvc.sessions.schemas import SessionInfoOut, SignedInOut
from authsvc.web.client_ip import ClientIP
from authsvc.web.cookies import clear_session_cookie
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, PARAMETERS, problems, session_cookie_header

router = APIRouter(tags=["session"])


@router.get(
    "/session",
    operation_id="getSession",
    summary="The signed-in account and its session",
    responses=problems(*SESSION_REFUSALS, *DATABASE),
)
async def current_session(current: CurrentSession) -> SignedInOut:
    return SignedInOut.of(current.account, current.session)


@router.post(
    "/logout",
    status_code=204,
    operation_id="logout",
    summary="End the session on the server and clear the cookie",
    responses={
        204: {"description": "Signed out", "headers": session_cookie_header("Clears")},
        **problems(*SESSION_REFUSALS_UNSAFE, *DATABASE),
    },
)
async def logout(
    current: CurrentSession, request: Request, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.end_session(session, current.session, now=ctx.clock.now(), ip=ip)
    response = Response(status_code=204)
    clear_session_cookie(response, request, ctx.settings)
    return response


@router.get(
    "/sessions",
    operation_id="listSessions",
    summary="The account's live sessions, most recently used first",
    responses=problems(*SESSION_REFUSALS, *DATABASE),
)
async def list_sessions(
    current: CurrentSession, ctx: Context, session: Session
) -> list[SessionInfoOut]:
    found = await service.list_sessions(session, current.account.id, now=ctx.clock.now())
    return [
        SessionInfoOut(
            id=record.id,
            created_at=record.created_at,
            last_used_at=record.last_seen_at,
            ip=record.ip,
            device=describe(record.user_agent),
            current=record.id == current.session.id,
        )
        for record in found
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    operation_id="revokeSession",
    summary="End one of the account's sessions (the current one too)",
    responses=problems(*SESSION_REFUSALS_UNSAFE, SessionNotFound, *PARAMETERS, *DATABASE),
)
async def revoke_session(
    session_id: uuid.UUID, current: CurrentSession, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.revoke_session(session, current.session, session_id, now=ctx.clock.now(), ip=ip)
    return Response(status_code=204)


@router.delete(
    "/sessions",
    status_code=204,
    operation_id="revokeOtherSessions",
    summary="End every session of the account except the current one",
    responses=problems(*SESSION_REFUSALS_UNSAFE, *DATABASE),
)
async def revoke_other_sessions(
    current: CurrentSession, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.revoke_other_sessions(session, current.session, now=ctx.clock.now(), ip=ip)
    return Response(status_code=204)
