"""The factors' rules: pure functions of the account, what it has enrolled, the clock and
the settings, tested without a database."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

from authsvc.accounts.models import Account
from authsvc.core.errors import AppError
from authsvc.factors.errors import FactorNotAllowed, FactorNotEnrolled

CODE_FACTORS = ("email", "sms")
STRONG_FACTORS = ("totp", "passkey")
RECOVERY = "recovery_code"

TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_SKEW = 1  # steps either way (RFC 6238 section 5.2)
TOTP_SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation

RECOVERY_CODES_PER_SET = 10
RECOVERY_LOW = 3  # a use that leaves this many or fewer warns the customer
# 32 symbols (5 bits each), without i, l, o, u (Crockford's base32): 16 symbols = 80 bits.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_SYMBOLS = 16
_RECOVERY_TYPED = re.compile(rf"[{RECOVERY_ALPHABET}]{{{RECOVERY_SYMBOLS}}}")
_TOTP_TYPED = re.compile(rf"([0-9]{{{TOTP_DIGITS // 2}}})[ -]?([0-9]{{{TOTP_DIGITS // 2}}})")


@dataclass(frozen=True)
class Enrolled:
    """What an account has set up beyond its contacts."""

    totp: bool = False
    recovery_codes: int = 0  # unused codes of the current set
    passkeys: int = 0

    def strong(self) -> list[str]:
        return [*(["totp"] if self.totp else []), *(["passkey"] if self.passkeys else [])]


NOTHING = Enrolled()


def accepted_factors(account: Account, enrolled: Enrolled) -> list[str]:
    """Every second step a new login challenge of `account` accepts, in the order they
    are tried: codes only without a strong factor or with the fallback kept, recovery
    codes only beside a strong factor."""
    strong = enrolled.strong()
    codes = ["email", *(["sms"] if account.phone else [])]
    if strong and not account.codes_fallback:
        codes = []
    recovery = [RECOVERY] if strong and enrolled.recovery_codes > 0 else []
    return [*codes, *strong, *recovery]


def asked_factor(account: Account, accepted: list[str]) -> str:
    """The step asked for first: the customer's choice while it is accepted, else the
    strongest one, else the code channel."""
    chosen = account.preferred_factor or account.channel
    if chosen in accepted and chosen != RECOVERY:
        return chosen
    strong = [factor for factor in accepted if factor in STRONG_FACTORS]
    return strong[0] if strong else account.channel


def preferred_refusal(
    factor: str, *, account: Account, enrolled: Enrolled, codes_fallback: bool
) -> AppError | None:
    """Why `factor` cannot be the preferred step: not set up (SMS without a phone), or a
    code while a strong factor is set up and the fallback is off. None when it can."""
    if factor in STRONG_FACTORS:
        return None if factor in enrolled.strong() else FactorNotEnrolled()
    if factor == "sms" and not account.phone:
        return FactorNotEnrolled()
    if enrolled.strong() and not codes_fallback:
        return FactorNotAllowed()
    return None


# --- the authenticator app ------------------------------------------------------------


def new_totp_secret() -> str:
    """A random 160-bit secret as base32 (what the app is given)."""
    return pyotp.random_base32(length=32)


def time_step(moment: datetime) -> int:
    return int(moment.timestamp()) // TOTP_PERIOD


def normalise_totp(typed: str) -> str | None:
    """The six digits of a typed app code (`123456`, `123 456`, `123-456`), or None."""
    match = _TOTP_TYPED.fullmatch(typed.strip())
    return match.group(1) + match.group(2) if match else None


def matching_step(
    secret: str, typed: str, now: datetime, *, digits: int = TOTP_DIGITS
) -> int | None:
    """The time step within one step of `now` whose code is `typed`, or None. Which
    step, so the caller can spend it (a step once accepted never is again)."""
    code = normalise_totp(typed) if digits == TOTP_DIGITS else typed.strip()
    if code is None:
        return None
    totp = pyotp.TOTP(secret, digits=digits, interval=TOTP_PERIOD)
    current = time_step(now)
    found = None
    for step in range(current - TOTP_SKEW, current + TOTP_SKEW + 1):
        # Every candidate compared, in constant time: timing says nothing of which matched.
        if secrets.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


# --- recovery codes -------------------------------------------------------------------


def new_recovery_code() -> str:
    """80 random bits as 16 symbols, grouped for reading: `xxxx-xxxx-xxxx-xxxx`."""
    symbols = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_SYMBOLS))
    return "-".join(symbols[i : i + 4] for i in range(0, RECOVERY_SYMBOLS, 4))


def normalise_recovery_code(typed: str) -> str | None:
    """The 16 symbols of a typed recovery code, in any case, dashes and spaces ignored;
    None when it cannot be one."""
    symbols = re.sub(r"[\s-]", "", typed).lower()
    return symbols if _RECOVERY_TYPED.fullmatch(symbols) else None


# --- passkeys -------------------------------------------------------------------------

MAX_PASSKEYS = 10
PASSKEY_CHALLENGE_TTL = timedelta(minutes=5)
PASSKEY_CHALLENGE_BYTES = 32
# A browser's clientDataJSON is a few hundred bytes; anything much longer is not one.
MAX_CLIENT_DATA_CHARS = 4096


def counter_regressed(stored: int, received: int) -> bool:
    """Whether a signature counter of `received` after `stored` means a copied
    authenticator (WebAuthn 6.1.1): it must grow, unless both are 0 (an authenticator,
    such as a synced passkey, that does not count)."""
    return (stored > 0 or received > 0) and received <= stored


def origin_usable(origin_host: str | None, rp_id: str) -> bool:
    """Whether a page of `origin_host` may use passkeys of relying party `rp_id`: the
    same host or a subdomain of it (the browser refuses any other)."""
    if not origin_host:
        return False
    return origin_host == rp_id or origin_host.endswith("." + rp_id)
