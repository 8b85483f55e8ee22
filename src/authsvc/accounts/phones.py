"""Phone numbers that codes can be texted to: the one check for every way a number comes in
(`authsvc accounts create`, a contact change, the migration of stored numbers).

A number is accepted when `phonenumbers` finds it valid, of a mobile type (or
fixed-or-mobile, where the numbering plan cannot tell, as in the US), and of a country in
`AUTHSVC_SMS_COUNTRIES`; it is stored in E.164. Premium-rate, shared-cost, VoIP and fixed
lines are refused: SMS pumping lives on such ranges, and a fixed line cannot read a code.

What a person types is checked before `phonenumbers` sees it: `+` and the country code
first, then digits (any script's, turned into ASCII) and the usual separators. Letters are
refused, though `phonenumbers` would read them as a keypad's (`+48 601 ABC DEF` is a
valid number to it): nobody's own mobile is written so, and it would hide what was typed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from authsvc.accounts.errors import InvalidPhone

Reason = Literal["invalid", "not_mobile", "country_not_allowed"]
REASONS: tuple[Reason, ...] = ("invalid", "not_mobile", "country_not_allowed")
# Far more than any number with separators (E.164 has at most 15 digits); keeps the work
# on hostile input bounded.
MAX_TYPED_LENGTH = 64
SEPARATORS = frozenset(" \u00a0-./()")
TEXTABLE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
# The last digits of a number that the operator gives out one by one: the rest is the
# range (the "prefix") that a pumping attack walks through.
PREFIX_CUT = 4


@dataclass(frozen=True)
class Textable:
    """A number codes may be texted to."""

    e164: str  # +48601234567
    country: str  # ISO 3166-1 alpha-2, e.g. PL

    @property
    def prefix(self) -> str:
        """The number without its last 4 digits: the range it belongs to (+4860123)."""
        return self.e164[:-PREFIX_CUT]


def check(typed: str, countries: Collection[str]) -> Textable | Reason:
    """The number in E.164 with its country, or why codes cannot be texted to it."""
    ascii_form = _ascii_form(typed)
    if ascii_form is None:
        return "invalid"
    try:
        parsed = phonenumbers.parse(ascii_form, None)
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_valid_number(parsed):
        return "invalid"
    country: str | None = phonenumbers.region_code_for_number(parsed)  # None: non-geographic
    if country is None or country not in countries:
        return "country_not_allowed"
    if phonenumbers.number_type(parsed) not in TEXTABLE_TYPES:
        return "not_mobile"
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Textable(e164, country)


def textable(typed: str, countries: Collection[str]) -> Textable:
    """The number codes will be texted to, or `422 invalid_phone` with its `reason`."""
    found = check(typed, countries)
    if isinstance(found, Textable):
        return found
    raise refusal(typed, found, countries)


def refusal(typed: str, reason: Reason, countries: Collection[str]) -> InvalidPhone:
    """The refusal of `typed`, saying why in words a person and a program can act on."""
    shown = repr(typed if len(typed) <= 32 else typed[:32] + "…")
    why = {
        "invalid": "not a phone number in international form, such as +48 601 234 567",
        "not_mobile": "not a mobile number (codes go by SMS to mobiles only)",
        "country_not_allowed": "codes go by SMS only to numbers from "
        + ", ".join(sorted(countries)),
    }[reason]
    return InvalidPhone(f"Phone number {shown} refused ({reason}): {why}.", reason=reason)


def country_of(e164: str) -> str | None:
    """The ISO country of a stored number, or None when it has none (for the metrics)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def _ascii_form(typed: str) -> str | None:
    """`typed` with its digits in ASCII and nothing but `+`, digits and separators, or None
    when it holds anything else or does not start with `+`."""
    text = typed.strip()
    if not text.startswith("+") or len(text) > MAX_TYPED_LENGTH:
        return None
    digits = []
    for char in text[1:]:
        if char.isdecimal():
            digits.append(str(unicodedata.decimal(char)))
        elif char not in SEPARATORS:
            return None
    return "+" + "".join(digits) if digits else None
