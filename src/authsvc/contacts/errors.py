"""Refusals of contact changes (the bad addresses themselves are `accounts.errors`')."""

from __future__ import annotations

from authsvc.core.errors import AppError, NotFound, RetryLater


class ChangeNotFound(NotFound):
    code = "change_not_found"
    title = "No such contact change"
    default_detail = "No such contact change; ask for a new code."


class ChangeExpired(AppError):
    status = 410
    code = "change_expired"
    title = "The contact change is over"
    default_detail = "The code has expired; ask for a new one."

    # `reason` says which, for programs: expired, used or exhausted.
    @classmethod
    def used(cls) -> ChangeExpired:
        return cls("This contact change was already confirmed.", reason="used")

    @classmethod
    def exhausted(cls) -> ChangeExpired:
        return cls("Too many wrong codes; ask for a new code.", reason="exhausted")


class InvalidChangeCode(AppError):
    """A wrong code; `attempts_left` says how many remain."""

    status = 401
    code = "invalid_code"
    title = "Invalid code"
    default_detail = "The code is incorrect."


class SmsLimited(RetryLater):
    """The code of a phone change must reach the new number by SMS, and none can be sent
    to it now (the hourly SMS budgets): there is no other channel to fall back on."""

    code = "sms_limited"
    title = "No SMS can be sent to this number now"
    default_detail = "Too many text messages were sent recently; try again later."
