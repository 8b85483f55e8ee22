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
