from __future__ import annotations

from authsvc.core.errors import AppError, InvalidInput, NotFound, RetryLater


class InvalidCredentials(AppError):
    """Unknown login, wrong password and disabled account all look exactly like this."""

    status = 401
    code = "invalid_credentials"
    title = "Invalid login or password"


class InvalidCode(AppError):
    status = 401
    code = "invalid_code"
    title = "Invalid code"


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"
    title = "No such login challenge"


class ChallengeExpired(AppError):
    status = 410
    code = "challenge_expired"
    title = "The login challenge has expired"


class ChallengeExhausted(AppError):
    status = 410
    code = "challenge_exhausted"
    title = "Too many wrong codes; sign in again"


class ResendTooSoon(RetryLater):
    code = "resend_too_soon"
    title = "Wait before asking for another code"


class ResendLimitReached(RetryLater):
    code = "resend_limit_reached"
    title = "No more codes can be sent for this login; sign in again"


class ChannelUnavailable(InvalidInput):
    code = "channel_unavailable"
    title = "This account cannot receive codes on that channel"
