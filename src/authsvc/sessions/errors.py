"""Refusals of session checks."""

from __future__ import annotations

from authsvc.core.errors import AppError, NotFound


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"
    title = "Not signed in"
    default_detail = "Sign in first."
    # Browsers show no dialog for Bearer; API clients learn how to authenticate.
    challenge = 'Bearer realm="authsvc"'
    ENDED = "The session has expired or was ended; sign in again."


class CsrfRejected(AppError):
    status = 403
    code = "csrf_rejected"
    title = "Request origin not allowed"
    default_detail = "Cookie-authenticated requests must come from an allowed origin."


class ReauthenticationRequired(AppError):
    status = 403
    code = "reauthentication_required"
    title = "Confirm your password first"
    default_detail = (
        "Changing how the account signs in needs a recent password re-entry: "
        "POST /session/reauthenticate, then try again."
    )


class SessionNotFound(NotFound):
    code = "session_not_found"
    title = "Session not found"
    default_detail = "No live session of this account has that id."
