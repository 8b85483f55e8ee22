"""HTTP error handling: every error leaves as application/problem+json with a stable code."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Annotated, Any, NotRequired

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from authsvc.core.db import DatabaseUnavailable, is_unavailable
from authsvc.core.errors import AppError, InvalidInput, RetryLater
from authsvc.ops.metrics import PROBLEMS

log = logging.getLogger("authsvc.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "https://authsvc.dev/problems/{code}"


class FieldError(TypedDict):
    field: Annotated[str, Field(description="Dotted path of the field, e.g. `login`")]
    message: str
    type: Annotated[str, Field(description="Machine-readable kind, e.g. `missing`")]


class Problem(TypedDict):
    """The body of every error: RFC 9457 problem details with a stable `code`."""

    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        extra="forbid",
        json_schema_extra={
            "description": "RFC 9457 problem details with a stable machine-readable `code`. "
            "The optional fields come with the codes their descriptions name."
        },
    )

    type: Annotated[str, Field(examples=["https://authsvc.dev/problems/invalid_code"])]
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    code: Annotated[str, Field(description="Stable and machine-readable; see each response")]
    attempts_left: NotRequired[
        Annotated[
            int,
            Field(ge=0, description="`invalid_code` (and `weak_password` at a reset): tries left"),
        ]
    ]
    reason: NotRequired[
        Annotated[
            str,
            Field(
                description="Which case, in words that do not change: `weak_password`: "
                "too_short, too_long, common, same_as_login, context_word; `reset_expired`: "
                "expired, used, exhausted; `invalid_phone`: invalid, not_mobile, "
                "country_not_allowed"
            ),
        ]
    ]
    limit: NotRequired[
        Annotated[int, Field(ge=1, description="`weak_password` too_short / too_long: the limit")]
    ]
    retry_after: NotRequired[
        Annotated[int, Field(ge=1, description="Seconds to wait, as in `Retry-After`")]
    ]
    errors: NotRequired[
        Annotated[list[FieldError], Field(description="`invalid_request`: what failed where")]
    ]
    line: NotRequired[Annotated[int, Field(ge=1, description="`invalid_json`: where, from 1")]]
    column: NotRequired[Annotated[int, Field(ge=1, description="`invalid_json`: where, from 1")]]


# --- refusals made by the HTTP layer itself, documented like the domains' own ---------


class InvalidJson(AppError):
    status = 400
    code = "invalid_json"
    title = "Invalid JSON"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
    default_detail = "Send the request body as JSON, with `Content-Type: application/json`."


class InvalidRequest(InvalidInput):
    code = "invalid_request"
    title = "Invalid request"
    default_detail = "The request body or parameters failed validation."


class DatabaseDown(RetryLater):
    """The answer to `core.db.DatabaseUnavailable` and its kin (see `_database_error`)."""

    status = 503
    code = "database_unavailable"
    title = "Service unavailable"
    default_detail = "The database is unreachable at the moment; try again shortly."


class InternalError(AppError):
    status = 500
    code = "internal_error"
    title = "Internal server error"
    default_detail = "The server could not handle the request."


# Codes for errors raised by the framework itself (routing, methods, bodies).
_FRAMEWORK_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
}
# Those the framework raises that are documented like ours: the same code and title.
_FRAMEWORK_ERRORS = {
    error.status: error for error in (PayloadTooLarge, UnsupportedMediaType, InvalidRequest)
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
        "type": PROBLEM_TYPE.format(code=code),
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


def error_response(error: AppError) -> JSONResponse:
    return problem_response(
        error.status, error.code, error.title, error.detail, headers=error.headers, **error.extra
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400 and (unreadable := _unreadable_json(exc.__cause__)) is not None:
        return error_response(unreadable)
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    code, title = _FRAMEWORK_CODES.get(status, "http_error"), phrase
    if (known := _FRAMEWORK_ERRORS.get(status)) is not None:
        code, title = known.code, known.title
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if status == 405 and (allowed := _allowed_methods(request)) is not None:
        headers["Allow"] = allowed
    return problem_response(status, code, title, detail, headers=headers)


def _allowed_methods(request: Request) -> str | None:
    """Every method of the path: Starlette's 405 names only the first route's, and
    `/auth-codes/current` has a GET route and a DELETE route."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods)) or None


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _where(before: str) -> tuple[int, int]:
    """Line and column (from 1) of the character after `before`."""
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _unreadable_json(cause: BaseException | None) -> InvalidJson | None:
    """What FastAPI's bare 400 "error parsing the body" was, when json.loads could not
    even start: bytes that are not UTF-8, or nesting deeper than the parser goes."""
    if isinstance(cause, UnicodeDecodeError) and isinstance(cause.object, bytes):
        line, column = _where(cause.object[: cause.start].decode("utf-8", errors="replace"))
        detail = f"The request body is not valid JSON: not UTF-8 at line {line}, column {column}."
        return InvalidJson(detail, line=line, column=column)
    if isinstance(cause, RecursionError):
        return InvalidJson("The request body is not valid JSON here: it is nested too deeply.")
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    failures = exc.errors()
    has_body = request.method in ("POST", "PUT", "PATCH")
    if has_body and not _is_json(request):
        return error_response(UnsupportedMediaType())
    for err in failures:
        if err.get("type") == "json_invalid":
            loc = err.get("loc", ())
            position = loc[-1] if loc and isinstance(loc[-1], int) else 0
            # The position counts characters, not bytes.
            text = (await request.body()).decode("utf-8", errors="replace")
            line, column = _where(text[:position])
            reason = str(err.get("ctx", {}).get("error", "")) or "malformed"
            detail = (
                f"The request body is not valid JSON: {reason} at line {line}, column {column}."
            )
            return error_response(InvalidJson(detail, line=line, column=column))
    # Only location, message and type: the offending input may be a password.
    errors = [
        FieldError(
            field=".".join(str(part) for part in err.get("loc", ()) if part != "body"),
            message=err.get("msg", "invalid"),
            type=err.get("type", "value_error"),
        )
        for err in failures
    ]
    return error_response(InvalidRequest(errors=errors))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database being away is the server's trouble, and passing: 503. Which errors
    mean that is decided in one place, `core.db.is_unavailable`."""
    if not is_unavailable(exc):
        return await _unhandled_error(request, exc)
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return error_response(DatabaseDown(retry_after=1))


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return error_response(InternalError())


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(DatabaseUnavailable, _database_error)
    app.add_exception_handler(Exception, _unhandled_error)
