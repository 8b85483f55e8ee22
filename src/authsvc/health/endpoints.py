from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from authsvc.health import service
from authsvc.health.errors import MetricsClosed, MetricsTokenRequired, NotReady
from authsvc.ops.drain import is_draining
from authsvc.ops.metrics import CONTENT_TYPE, render
from authsvc.ops.migrations import schema_is_current
from authsvc.web.dependencies import Context
from authsvc.web.headers import bearer_token
from authsvc.web.openapi_docs import DATABASE, PUBLIC, problems, signs_in_with

router = APIRouter(tags=["operations"])

# The security scheme of openapi.yaml for the scraper.
_METRICS_TOKEN = HTTPBearer(
    scheme_name="metricsToken",
    description="`AUTHSVC_METRICS_TOKEN` as `Authorization: Bearer <token>`. Without a "
    "token configured, /metrics is open in dev mode and closed (403) otherwise.",
    auto_error=False,
)


class Status(BaseModel):
    status: str


@router.get(
    "/healthz", operation_id="healthz", summary="The process is alive", openapi_extra=PUBLIC
)
async def healthz() -> Status:
    return Status(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable, its schema is at the latest migration, and the "
    "process is not shutting down",
    openapi_extra=PUBLIC,
    responses=problems(NotReady),
)
async def readyz(ctx: Context) -> Status:
    if is_draining():  # told to stop: out of the balancer's rotation first (ops/serving.py)
        raise NotReady(NotReady.DRAINING)
    try:
        current = await asyncio.wait_for(schema_is_current(ctx.db.engine), timeout=3)
    except Exception:
        raise NotReady() from None
    if not current:
        raise NotReady(NotReady.SCHEMA_BEHIND)
    return Status(status="ready")


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics (outside dev mode: `Authorization: Bearer` the metrics token)",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        },
        **problems(MetricsTokenRequired, MetricsClosed, *DATABASE),
    },
)
@signs_in_with(_METRICS_TOKEN)  # check_metrics_access reads and checks the token
async def metrics(request: Request, ctx: Context) -> Response:
    service.check_metrics_access(ctx.settings, bearer_token(request))
    await service.observe(ctx)
    return Response(render(), media_type=CONTENT_TYPE)
