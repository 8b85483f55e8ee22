"""Refusals of the accounts domain (creation, contact data, password policy)."""

from __future__ import annotations

from authsvc.core.errors import Conflict, InvalidInput, NotFound


class LoginTaken(Conflict):
    code = "login_taken"
    title = "Login already taken"


class InvalidLogin(InvalidInput):
    code = "invalid_login"
    title = "Invalid login"
    default_detail = (
        "Login must be 3 to 64 characters: letters, digits and . _ @ + - "
        "(starting with a letter or digit)."
    )


class InvalidEmail(InvalidInput):
    code = "invalid_email"
    title = "Invalid e-mail address"


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    title = "Invalid phone number"


class InvalidChannel(InvalidInput):
    code = "invalid_channel"
    title = "Invalid second-factor channel"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "No such account"


class InvalidLocale(InvalidInput):
    code = "invalid_locale"
    title = "Invalid locale"


class WeakPassword(InvalidInput):
    code = "weak_password"
    title = "Password does not meet the policy"
