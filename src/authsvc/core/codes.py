"""Six-digit codes (login codes and authorization codes): how they are made and read.

The generator is injected like the clock (`ServiceContext.codes`), so tests know which
code was sent instead of fishing it out of a message and branching on chance.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator

from authsvc.core.crypto import Keyring

DIGITS = 6

CodeGenerator = Callable[[], str]

# What a person types for a code they read or hear: 123456, 123 456 or 123-456.
_TYPED = re.compile(rf"([0-9]{{{DIGITS // 2}}})[ -]?([0-9]{{{DIGITS - DIGITS // 2}}})")


def random_code() -> str:
    """A uniformly random code from `secrets`; leading zeros allowed."""
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def normalise_code(typed: str) -> str | None:
    """The digits of a typed code, or None when it cannot be one (a wrong attempt).

    Surrounding whitespace is ignored; inside, only one space or hyphen in the middle.
    """
    match = _TYPED.fullmatch(typed.strip())
    return match.group(1) + match.group(2) if match else None


def typed_code_matches(
    keyring: Keyring, purpose: str, subject: str, typed: str, stored: bytes
) -> bool:
    """Whether `typed` is the code whose HMAC (under `purpose`, bound to `subject`) is
    `stored`. Always one HMAC, even for a malformed code, so timing says nothing about
    the format."""
    digits = normalise_code(typed)
    matched = keyring.verify(purpose, subject, digits or "", stored)
    return matched and digits is not None


def typed_code_candidates(keyring: Keyring, purpose: str, subject: str, typed: str) -> list[bytes]:
    """The HMACs (under every key) a stored code must equal for `typed` to be it, for a
    statement that compares in the database; none when `typed` cannot be a code. One
    HMAC per key either way, so timing says nothing about the format."""
    digits = normalise_code(typed)
    macs = keyring.sign_all(purpose, subject, digits or "")
    return macs if digits is not None else []


class ScriptedCodes:
    """A generator that hands out the given codes in order (tests and benchmarks)."""

    def __init__(self, codes: Iterable[str]) -> None:
        self._codes: Iterator[str] = iter(codes)

    def __call__(self) -> str:
        return next(self._codes)
