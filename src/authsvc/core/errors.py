"""One base error for the domain; a single handler turns it into problem+json (RFC 9457)."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """A refusal the client can act on. Subclasses set status, code and title."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
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
    """Base for refusals that carry Retry-After."""

    status = 429
    code = "too_many_attempts"
    title = "Too many attempts"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after, **extra
        )


class Overloaded(RetryLater):
    status = 503
    code = "overloaded"
    title = "Service overloaded, try again shortly"
