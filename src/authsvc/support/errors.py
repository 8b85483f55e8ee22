"""Refusals of support keys and support verification."""

from __future__ import annotations

from authsvc.core.errors import AppError, Conflict, InvalidInput, NotFound


class InvalidApiKey(AppError):
    status = 401
    code = "invalid_api_key"
    title = "Missing, unknown or revoked API key"
    default_detail = "Send a valid support API key as `Authorization: Bearer <key>`."
    challenge = 'Bearer realm="authsvc"'


class InsufficientScope(AppError):
    status = 403
    code = "insufficient_scope"
    title = "The API key lacks the scope for this operation"


class InvalidKeySpec(InvalidInput):
    code = "invalid_support_key"
    title = "Invalid support key name or scope"


class KeyNameTaken(Conflict):
    code = "support_key_name_taken"
    title = "A support key with that name already exists"


class KeyNotFound(NotFound):
    code = "support_key_not_found"
    title = "No such support key"
