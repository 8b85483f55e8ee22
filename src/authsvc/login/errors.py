"""Refusals of the two-step login."""

from __future__ import annotations

from authsvc.core.errors import AppError, InvalidInput, NotFound, RetryLater


class InvalidCredentials(AppError):
    """Unknown login, wrong password and disabled account all look exactly like this."""

    status = 401
    code = "invalid_credentials"
    title = "Invalid login or password"
    default_detail = "The login or password is incorrect."


class PasswordResetRequired(AppError):
    """After "this wasn't me": the right password no longer finishes a login."""

    status = 403
    code = "password_reset_required"
    title = "Password reset required"
    default_detail = (
        "This account was secured after a report that a sign-in was not the customer's: "
        "set a new password with a password reset, then sign in."
    )


class InvalidCode(AppError):
    status = 401
    code = "invalid_code"
    title = "Invalid code"
    default_detail = "The code is incorrect."


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"
    title = "No such login challenge"
    default_detail = "No such login challenge, or it has expired; sign in again."


class ChallengeExpired(AppError):
    status = 410
    code = "challenge_expired"
    title = "The login challenge has expired"
    default_detail = "The code has expired; sign in again."
    USED = "This login challenge was already used."
    INVALIDATED = "This login challenge is no longer valid."


class ChallengeExhausted(AppError):
    status = 410
    code = "challenge_exhausted"
    title = "Too many wrong codes; sign in again"
    default_detail = "Too many wrong codes; sign in again."


class ResendTooSoon(RetryLater):
    code = "resend_too_soon"
    title = "Wait before asking for another code"
    default_detail = "Wait before asking for another code."


class ResendLimitReached(RetryLater):
    code = "resend_limit_reached"
    title = "No more codes can be sent for this login; sign in again"
    default_detail = "No more codes can be sent for this login; sign in again."


class ChannelUnavailable(InvalidInput):
    code = "channel_unavailable"
    title = "This account cannot receive codes on that channel"
    default_detail = "This account has no phone number for SMS codes."
