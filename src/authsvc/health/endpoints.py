from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from authsvc.health.errors import NotReady
from authsvc.ops.migrations import schema_is_current
from authsvc.web.dependencies import Context

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
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
