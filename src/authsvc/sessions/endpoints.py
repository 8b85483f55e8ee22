from __future__ import annotations

from fastapi import APIRouter, Request, Response

from authsvc.context import Context, Session
from authsvc.core.problem import problem_responses
from authsvc.login.schemas import AccountOut, SessionOut, SignedInOut
from authsvc.sessions import service
from authsvc.sessions.cookies import clear_session_cookie
from authsvc.sessions.dependencies import CurrentSession

router = APIRouter(tags=["session"])


@router.get(
    "/session", summary="The signed-in account and its session", responses=problem_responses(401)
)
async def current_session(current: CurrentSession) -> SignedInOut:
    return SignedInOut(
        account=AccountOut.model_validate(current.account, from_attributes=True),
        session=SessionOut(
            expires_at=current.session.expires_at,
            idle_expires_at=current.session.idle_expires_at,
        ),
    )


@router.post(
    "/logout",
    status_code=204,
    summary="End the session on the server and clear the cookie",
    responses=problem_responses(401, 403),
)
async def logout(
    current: CurrentSession, request: Request, ctx: Context, session: Session
) -> Response:
    await service.end_session(session, current.session.id, now=ctx.clock.now())
    response = Response(status_code=204)
    clear_session_cookie(response, request, ctx.settings)
    return response
