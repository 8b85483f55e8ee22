"""Password policy (NIST SP 800-63B): length, and not a common password.

No composition rules and no truncation; the length is counted in characters after
Unicode NFC normalisation, so the same password typed on two keyboards counts the same.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import cache
from importlib import resources

from authsvc.accounts.errors import WeakPassword
from authsvc.config import Settings

# Shorter words would refuse passwords for holding a common syllable.
CONTEXT_WORD_MIN_LENGTH = 3


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("authsvc.accounts").joinpath("common_passwords.txt").read_text()
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_password(
    password: str,
    *,
    min_length: int,
    max_length: int,
    login: str = "",
    context_words: Sequence[str] = (),
) -> None:
    """Raise WeakPassword with a reason a person can act on."""
    normalised = unicodedata.normalize("NFC", password)
    # `reason` (and `limit`) say it for programs, in words that do not change.
    if len(normalised) < min_length:
        raise WeakPassword(
            f"Password must be at least {min_length} characters long (15 or more recommended).",
            reason="too_short",
            limit=min_length,
        )
    if len(normalised) > max_length:
        raise WeakPassword(
            f"Password must be at most {max_length} characters long.",
            reason="too_long",
            limit=max_length,
        )
    folded = normalised.lower()
    if folded in common_passwords():
        raise WeakPassword(
            "This password is on the list of commonly used passwords.", reason="common"
        )
    if login and folded == login.lower():
        raise WeakPassword("Password must not be the same as the login.", reason="same_as_login")
    for word in (word.strip().lower() for word in context_words):
        # A password built on the service's name is among the first an attacker tries;
        # one that mentions it beside enough of its own is not.
        built_on = len(word) >= CONTEXT_WORD_MIN_LENGTH and word in folded
        if built_on and len(folded.replace(word, "")) < min_length:
            raise WeakPassword(
                f"Password must not be built on the word {word!r}: add at least "
                f"{min_length} characters of your own.",
                reason="context_word",
                limit=min_length,
            )


def check_new_password(password: str, settings: Settings, *, login: str) -> None:
    """`check_password` with the configured lengths, for a password an account is given."""
    check_password(
        password,
        min_length=settings.password_min_length,
        max_length=settings.password_max_length,
        login=login,
        context_words=settings.password_context_words,
    )
