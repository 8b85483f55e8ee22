"""Refusals of password resets and "this wasn't me" links."""

from __future__ import annotations

from authsvc.core.errors import AppError, NotFound, RetryLater


class ResetNotFound(NotFound):
    code = "reset_not_found"
    title = "No such password reset"
    default_detail = "No such password reset; ask for a new one."


class ResetExpired(AppError):
    status = 410
    code = "reset_expired"
    title = "The password reset is over"
    default_detail = "The reset code has expired; ask for a new one."

    # `reason` says which, for programs: expired, used or exhausted.
    @classmethod
    def used(cls) -> ResetExpired:
        return cls("This password reset was already used.", reason="used")

    @classmethod
    def exhausted(cls) -> ResetExpired:
        return cls("Too many wrong codes; ask for a new password reset.", reason="exhausted")


class ResetResendTooSoon(RetryLater):
    code = "resend_too_soon"
    title = "Wait before asking for another code"
    default_detail = "Wait before asking for another code."


class ResetResendLimitReached(RetryLater):
    code = "resend_limit_reached"
    title = "No more codes can be sent for this reset"
    default_detail = "No more codes can be sent for this reset; ask for a new one later."


class LinkUnusable(AppError):
    """A "this wasn't me" link that cannot act (any more); `state` says why."""

    status = 410
    code = "link_unusable"
    title = "This link cannot be used"

    def __init__(self, state: str) -> None:
        super().__init__(f"The link is {state}.")
        self.state = state
