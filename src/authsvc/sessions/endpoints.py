from __future__ import annotations

from fastapi import APIRouter, Request, Response

from authsvc.sessions import service
from authsvc.sessions.dependencies import CurrentSession
from authsvc.sessions.schemas import SignedInOut
from authsvc.web.client_ip import ClientIP
from authsvc.web.cookies import clear_session_cookie
from authsvc.web.dependencies import Context, Session
from authsvc.web.problem import problem_responses

router = APIRouter(tags=["session"])


@router.get(
    "/session",
    summary="The signed-in account and its session",
    responses=problem_responses(401, 503),
)
async def current_session(current: CurrentSession) -> SignedInOut:
    return SignedInOut.of(current.account, current.session)


@router.post(
    "/logout",
    status_code=204,
    summary="End the session on the server and clear the cookie",
    responses=problem_responses(401, 403, 503),
)
async def logout(
    current: CurrentSession, request: Request, ctx: Context, session: Session, ip: ClientIP
) -> Response:
    await service.end_session(session, current.session, now=ctx.clock.now(), ip=ip)
    response = Response(status_code=204)
    clear_session_cookie(response, request, ctx.settings)
    return response
