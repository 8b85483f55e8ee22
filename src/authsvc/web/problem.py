"""HTTP error handling: every error leaves as application/problem+json with a stable code."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from authsvc.core.db import DatabaseUnavailable, is_unavailable
from authsvc.core.errors import AppError
from authsvc.ops.metrics import PROBLEMS

log = logging.getLogger("authsvc.errors")

PROBLEM_JSON = "application/problem+json"

# Codes for errors raised by the framework itself (routing, methods, bodies).
_FRAMEWORK_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://authsvc.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    PROBLEMS.labels(status=str(status), code=code).inc()
    response = JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extra
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    code = _FRAMEWORK_CODES.get(status, "http_error")
    return problem_response(status, code, phrase, detail, headers=dict(exc.headers or {}))


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _where(body: bytes, position: int) -> tuple[int, int]:
    """Line and column (from 1) of a character position in the body."""
    before = body[:position].decode("utf-8", errors="replace")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    failures = exc.errors()
    has_body = request.method in ("POST", "PUT", "PATCH")
    if has_body and not _is_json(request):
        return problem_response(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "Send the request body as JSON, with `Content-Type: application/json`.",
        )
    for err in failures:
        if err.get("type") == "json_invalid":
            loc = err.get("loc", ())
            position = loc[-1] if loc and isinstance(loc[-1], int) else 0
            line, column = _where(await request.body(), position)
            reason = str(err.get("ctx", {}).get("error", "")) or "malformed"
            return problem_response(
                400,
                "invalid_json",
                "Invalid JSON",
                f"The request body is not valid JSON: {reason} at line {line}, column {column}.",
                line=line,
                column=column,
            )
    # Only location, message and type: the offending input may be a password.
    errors = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ()) if part != "body"),
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        for err in failures
    ]
    return problem_response(
        422,
        "invalid_request",
        "Invalid request",
        "The request body or parameters failed validation.",
        errors=errors,
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database being away is the server's trouble, and passing: 503. Which errors
    mean that is decided in one place, `core.db.is_unavailable`."""
    if not is_unavailable(exc):
        return await _unhandled_error(request, exc)
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return problem_response(
        503,
        "database_unavailable",
        "Service unavailable",
        "The database is unreachable at the moment; try again shortly.",
        headers={"Retry-After": "1"},
    )


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return problem_response(
        500, "internal_error", "Internal server error", "The server could not handle the request."
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(DatabaseUnavailable, _database_error)
    app.add_exception_handler(Exception, _unhandled_error)


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine-readable `code`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problems an operation may answer with."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
        }
        for status in statuses
    }
