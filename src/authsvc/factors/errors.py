"""Refusals of the second factors and their enrolment."""

from __future__ import annotations

from authsvc.core.errors import AppError, Conflict, NotFound


class TotpAlreadyEnrolled(Conflict):
    code = "totp_already_enrolled"
    title = "An authenticator app is already set up"
    default_detail = "Remove the current authenticator app before setting up another one."


class EnrollmentNotFound(NotFound):
    code = "enrollment_not_found"
    title = "No such authenticator app enrolment"
    default_detail = "No such authenticator app enrolment; start again."


class EnrollmentExpired(AppError):
    status = 410
    code = "enrollment_expired"
    title = "The authenticator app enrolment has expired"
    default_detail = "The enrolment has expired; start again."


class InvalidFactorCode(AppError):
    status = 401
    code = "invalid_code"
    title = "Invalid code"
    default_detail = "The code is incorrect."


class FactorNotEnrolled(Conflict):
    code = "factor_not_enrolled"
    title = "That factor is not set up"
    default_detail = "Set up this factor (or verify its contact) before choosing it."


class FactorNotAllowed(Conflict):
    """A code by e-mail or SMS where a strong factor rules them out (no fallback)."""

    code = "factor_not_allowed"
    title = "This second step is not allowed for this account"
    default_detail = (
        "This account signs in with a stronger second step; codes by e-mail or SMS are "
        "allowed only when kept as a fallback."
    )


class StrongFactorRequired(Conflict):
    code = "strong_factor_required"
    title = "Recovery codes need an authenticator app or a passkey"
    default_detail = "Set up an authenticator app or a passkey first."


class InvalidPasskey(AppError):
    """A passkey registration that does not verify: malformed, another challenge's,
    another origin's or relying party's, or a credential already registered."""

    status = 400
    code = "invalid_passkey"
    title = "Invalid passkey"
    default_detail = "The passkey could not be verified; start again."


class PasskeyNotAccepted(AppError):
    """A passkey assertion that does not sign in: malformed, replayed, another flow's
    challenge, an unknown (or removed) credential, another account's, a bad signature,
    no user verification where it is required."""

    status = 401
    code = "invalid_passkey"
    title = "Invalid passkey"
    default_detail = "The passkey could not be verified; start again."


class PasskeyChallengeExpired(AppError):
    status = 410
    code = "passkey_challenge_expired"
    title = "The passkey request has expired"
    default_detail = "The passkey request has expired; start again."


class PasskeyCounterRegressed(AppError):
    """The authenticator's signature counter went back: a copy of the passkey may be in
    use. Refused, recorded as a security event, and the customer is told."""

    status = 401
    code = "passkey_counter_regressed"
    title = "The passkey looks copied"
    default_detail = (
        "This passkey reported a use count lower than before, as a copy of it would; "
        "it was refused. Use another passkey or second step, and check your passkeys."
    )


class PasskeyLimitReached(Conflict):
    code = "passkey_limit_reached"
    title = "Too many passkeys"
    default_detail = "An account can have at most 10 passkeys; remove one first."


class PasskeyNotFound(NotFound):
    code = "passkey_not_found"
    title = "No such passkey"
    default_detail = "No such passkey on this account."


class PasskeySignInDisabled(NotFound):
    code = "passkey_sign_in_disabled"
    title = "Signing in with a passkey alone is turned off"
    default_detail = "Sign in with your login and password."
