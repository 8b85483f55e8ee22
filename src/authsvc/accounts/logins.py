"""What a typed login is: one normalisation for every lookup and every throttle key.

A login is ASCII (`LOGIN_PATTERN`: letters, digits and `._@+-`), compared without regard
to case. Anything else a client types can never name an account, so it is refused
before any lookup: a Unicode look-alike (`İ`, `ſ`, the Kelvin sign `K`, full-width
letters, combining marks) would otherwise fold to an existing login in one place and to
a fresh throttle key in another, and each spelling would get its own counter.
"""

from __future__ import annotations

import re

LOGIN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}", re.ASCII)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def is_valid(login: str) -> bool:
    """Whether `login` may be given to a new account."""
    return LOGIN_PATTERN.fullmatch(login) is not None


def fold(typed: str) -> str | None:
    """The one key of a typed login (surrounding spaces dropped, A-Z lowered, as
    PostgreSQL's `lower(login COLLATE "C")` does), or None when no account can have it."""
    login = typed.strip()
    if not is_valid(login):
        return None
    return login.translate(_ASCII_LOWER)
