"""One base error for refusals; a single handler (web/problem.py) turns it into problem+json.

Each refusal is a class in its domain's `errors.py` with its status, stable `code`, title
and default detail defined once; a raise site passes a detail only when it says more.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """A refusal the client can act on. Subclasses set status, code, title and detail."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    default_detail: ClassVar[str] = ""  # the title, when empty
    # The `WWW-Authenticate` challenge a 401 of this class sends (RFC 9110 section 11.6.1).
    challenge: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.default_detail or self.title
        self.headers = dict(headers or {})
        if self.challenge is not None:
            self.headers.setdefault("WWW-Authenticate", self.challenge)
        self.extra = extra
        super().__init__(self.detail)


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidInput(AppError):
    status = 422
    code = "invalid_input"
    title = "Invalid input"


class RetryLater(AppError):
    """Base for refusals that carry Retry-After; raised only through its subclasses."""

    status = 429

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after, **extra
        )


class Overloaded(RetryLater):
    status = 503
    code = "overloaded"
    title = "Service overloaded, try again shortly"
    default_detail = "Too many sign-ins at once; try again in a moment."
