from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from authsvc.health import service
from authsvc.health.errors import NotReady
from authsvc.ops.metrics import CONTENT_TYPE, render
from authsvc.ops.migrations import schema_is_current
from authsvc.web.dependencies import Context
from authsvc.web.headers import bearer_token
from authsvc.web.problem import problem_responses

router = APIRouter(tags=["operations"])


class Status(BaseModel):
    status: str


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Status:
    return Status(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and its schema is at the latest migration",
    responses={503: {"description": "Not ready"}},
)
async def readyz(ctx: Context) -> Status:
    try:
        current = await asyncio.wait_for(schema_is_current(ctx.db.engine), timeout=3)
    except Exception:
        raise NotReady() from None
    if not current:
        raise NotReady(NotReady.SCHEMA_BEHIND)
    return Status(status="ready")


@router.get(
    "/metrics",
    summary="Prometheus metrics (outside dev mode: `Authorization: Bearer` the metrics token)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **problem_responses(401, 403, 503),
    },
)
async def metrics(request: Request, ctx: Context) -> Response:
    service.check_metrics_access(ctx.settings, bearer_token(request))
    await service.observe(ctx)
    return Response(render(), media_type=CONTENT_TYPE)
