"""What `openapi.yaml` says beyond the routes' signatures: the problems each operation
answers with, built from the very error classes the code raises, and the headers.

Nothing here changes how a request is handled. A route lists its refusals once,
`responses=problems(InvalidCode, ChallengeNotFound, *JSON_BODY, *DATABASE)`, and the
document gets one response per status: the codes as an enum over the shared `Problem`
schema, and `Retry-After` / `WWW-Authenticate` where those classes send them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase
from pydantic import TypeAdapter

from authsvc.config import Settings
from authsvc.core.errors import AppError, RetryLater
from authsvc.web.cookies import DEV_COOKIE, DEV_DEVICE_COOKIE, SECURE_COOKIE, SECURE_DEVICE_COOKIE
from authsvc.web.problem import (
    PROBLEM_JSON,
    DatabaseDown,
    InvalidJson,
    InvalidRequest,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
)

Responses = dict[int | str, dict[str, Any]]

SCHEMAS = "#/components/schemas/"
PROBLEM_REF = {"$ref": SCHEMAS + "Problem"}
REQUEST_ID = "X-Request-ID"

# What any operation with a JSON body, with parameters, or with database work can be
# refused with, besides its own refusals.
JSON_BODY: tuple[type[AppError], ...] = (
    InvalidJson,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidRequest,
)
PARAMETERS: tuple[type[AppError], ...] = (InvalidRequest,)
DATABASE: tuple[type[AppError], ...] = (DatabaseDown,)

# `openapi_extra` of an operation anyone may call: said, rather than left to be guessed.
PUBLIC: dict[str, Any] = {"security": []}

F = TypeVar("F", bound=Callable[..., Any])
_SECURITY = "__openapi_security__"


def signs_in_with(*schemes: SecurityBase) -> Callable[[F], F]:
    """Mark a dependency (or an endpoint) as reading the request's credentials by any of
    `schemes`: every operation that depends on it says so in the document.

    FastAPI's own way, a `Security()` parameter, runs each scheme's reader on every
    request, three dependencies on the session check where the code reads the token once
    itself; their resolution was a tenth of the check's CPU (docs/performance.md).
    """

    def mark(function: F) -> F:
        setattr(function, _SECURITY, schemes)
        return function

    return mark


def _schemes_of(dependant: Dependant) -> list[SecurityBase]:
    found = list(getattr(dependant.call, _SECURITY, ()))
    for dependency in dependant.dependencies:
        found.extend(_schemes_of(dependency))
    return found


def _add_security(app: FastAPI, document: dict[str, Any]) -> None:
    """Each operation's `security` and the schemes it names, from `signs_in_with`."""
    defined = document.setdefault("components", {}).setdefault("securitySchemes", {})
    # As FastAPI's own generator walks them: included routers stay nested in the app.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        schemes = {scheme.scheme_name: scheme for scheme in _schemes_of(route.dependant)}
        for name, scheme in schemes.items():
            model = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
            defined.setdefault(name, model)
        for method in route.methods or () if schemes else ():
            operation = document["paths"][route.path_format][method.lower()]
            operation["security"] = [{name: []} for name in schemes]


def problems(*errors: type[AppError]) -> Responses:
    """`responses=` entries for the refusals an operation may answer with, by status."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in dict.fromkeys(errors):
        group = by_status.setdefault(error.status, [])
        if all(other.code != error.code for other in group):
            group.append(error)
    return {status: _response(status, group) for status, group in sorted(by_status.items())}


def _response(status: int, group: list[type[AppError]]) -> dict[str, Any]:
    codes = [error.code for error in group]
    refinement: dict[str, Any] = {
        "properties": {"status": {"enum": [status]}, "code": {"enum": codes}}
    }
    if all(issubclass(error, RetryLater) for error in group):
        refinement["required"] = ["retry_after"]
    response: dict[str, Any] = {
        "description": _description(group),
        "content": {
            PROBLEM_JSON: {"schema": {"allOf": [{"$ref": SCHEMAS + "Problem"}, refinement]}}
        },
    }
    headers = {}
    retrying = [error for error in group if issubclass(error, RetryLater)]
    if retrying:
        headers["Retry-After"] = _header(
            "Seconds to wait before trying again.",
            retrying,
            group,
            {"type": "integer", "minimum": 1},
        )
    challenging = [error for error in group if error.challenge is not None]
    if challenging:
        headers["WWW-Authenticate"] = _header(
            "How to authenticate: " + ", ".join(f"`{e.challenge}`" for e in challenging) + ".",
            challenging,
            group,
            {"type": "string"},
        )
    if headers:
        response["headers"] = headers
    return response


def _description(group: list[type[AppError]]) -> str:
    if len(group) == 1:
        return f"{group[0].title} (`{group[0].code}`)"
    return "One of:\n" + "".join(f"\n- `{error.code}`: {error.title}" for error in group)


def _header(
    what: str,
    sending: Sequence[type[AppError]],
    group: Sequence[type[AppError]],
    schema: dict[str, Any],
) -> dict[str, Any]:
    always = len(sending) == len(group)
    if not always:
        what += " Sent with " + ", ".join(f"`{error.code}`" for error in sending) + "."
    return {"description": what, "required": always, "schema": schema}


def session_cookie_header(what: str, *, with_device: bool = False) -> dict[str, Any]:
    """The `Set-Cookie` of a response that sets or clears the session cookie."""
    description = (
        f"{what} `{SECURE_COOKIE}` (Secure, HttpOnly, SameSite=Lax, Path=/); in dev mode "
        f"over plain HTTP `{DEV_COOKIE}` without Secure."
    )
    if with_device:
        description += (
            f" A second `Set-Cookie` sets the device cookie `{SECURE_DEVICE_COOKIE}` (the "
            f"same attributes, long-lived; `{DEV_DEVICE_COOKIE}` in dev mode): it marks a "
            "browser that completed a login, so password failures elsewhere do not lock it out."
        )
    return {
        "Set-Cookie": {"description": description, "required": True, "schema": {"type": "string"}}
    }


def html_page(description: str) -> dict[str, Any]:
    """A response that is an HTML page for a person, not JSON."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def servers(settings: Settings) -> list[dict[str, str]]:
    """Where the API is: the public URL (in dev mode by default the listen address)."""
    if settings.public_url is None:
        return []
    where = "The development server" if settings.is_dev else "This deployment"
    return [{"url": settings.public_url, "description": where}]


def install_openapi(app: FastAPI) -> None:
    """Complete what FastAPI generates: the shared Problem schema, and `X-Request-ID` on
    every response (the request-context middleware adds it to every answer)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = app.openapi_schema
        if document is None:
            document = generate()
            _add_security(app, document)
            components = document.setdefault("components", {})
            schemas = {**components.get("schemas", {}), **_problem_schemas()}
            components["schemas"] = dict(sorted(schemas.items()))
            components["headers"] = {REQUEST_ID: _REQUEST_ID_HEADER}
            for response in _responses(document):
                response.setdefault("headers", {})[REQUEST_ID] = {
                    "$ref": f"#/components/headers/{REQUEST_ID}"
                }
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_REQUEST_ID_HEADER = {
    "description": "The request's id, from a trusted proxy or generated; every log line "
    "of the request carries it.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
}


def _problem_schemas() -> dict[str, Any]:
    schema = TypeAdapter(Problem).json_schema(ref_template=SCHEMAS + "{model}")
    nested = schema.pop("$defs", {})
    return {"Problem": schema, **nested}


def _responses(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            yield from operation.get("responses", {}).values()
