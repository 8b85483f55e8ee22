"""Which phone numbers codes may be texted to (accounts.phones), without a database."""

from __future__ import annotations

import pytest

from authsvc.accounts.errors import InvalidPhone
from authsvc.accounts.phones import Textable, check, country_of, textable

PL = ["PL"]


@pytest.mark.parametrize(
    "typed",
    [
        "+48601234567",
        "+48 601 234 567",
        "+48-601-234-567",
        "+48 (601) 234.567",
        " +48 601 234 567 ",
        "+48\u00a0601\u00a0234\u00a0567",  # pasted with no-break spaces
        "+٤٨٦٠١٢٣٤٥٦٧",  # Arabic-Indic digits: the same number, stored in ASCII
        "+４８６０１２３４５６７",  # full-width digits
    ],
)
def test_a_polish_mobile_is_stored_in_e164_however_it_was_written(typed: str) -> None:
    assert check(typed, PL) == Textable("+48601234567", "PL")


def test_the_prefix_is_the_number_without_its_last_four_digits() -> None:
    assert Textable("+48601234567", "PL").prefix == "+4860123"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("+48 22 123 45 67", "not_mobile"),  # a Warsaw fixed line
        ("+48 700 123 456", "not_mobile"),  # premium rate: what SMS pumping lives on
        ("+48 801 123 456", "not_mobile"),  # shared cost
        ("+48 39 123 4567", "not_mobile"),  # VoIP
        ("+49 1512 3456789", "country_not_allowed"),  # a German mobile
        ("+44 7400 123456", "country_not_allowed"),  # a UK mobile
        ("+1 212 555 0100", "country_not_allowed"),
        ("+800 1234 5678", "country_not_allowed"),  # international freephone: no country
    ],
)
def test_fixed_lines_and_other_countries_are_refused(typed: str, reason: str) -> None:
    assert check(typed, PL) == reason


def test_other_countries_are_accepted_once_allowed() -> None:
    assert check("+49 1512 3456789", ["PL", "DE"]) == Textable("+4915123456789", "DE")
    # In the US a number may be fixed or mobile, and the plan cannot tell: accepted.
    assert check("+1 201 555 0123", ["US"]) == Textable("+12015550123", "US")


HOSTILE = [
    "",
    " ",
    "+",
    "++48601234567",
    "phone",
    "+48 601 ABC DEF",  # a keypad's letters: phonenumbers would read +48601222333
    "+48601234567abc",
    "1" * 40,
    "+" + "1" * 40,
    "+48" + "6" * 60,
    "٠١٢",
    "+٠١٢",
    "601234567",  # no country code
    "0048601234567",  # the 00 form is not international form here
    "+48 12",
    "+48601234567;ext=1",
    "tel:+48601234567",
    "+48 601 234 567 ext. 12",
    "+48\n601234567",
    "+48\x00601234567",
    "+48601234567\u202e",  # a right-to-left override
    "+48６０１２３４５６７８９０１２３４５",  # too many digits, full-width
    "+¹²³",  # superscripts are digits, but not decimal ones
    "+48 601 234 567 " * 10,
]


@pytest.mark.parametrize("typed", HOSTILE)
def test_anything_else_is_an_invalid_number(typed: str) -> None:
    assert check(typed, PL) == "invalid"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("+", "invalid"),
        ("+48 22 123 45 67", "not_mobile"),
        ("+49 1512 3456789", "country_not_allowed"),
    ],
)
def test_a_refusal_is_422_invalid_phone_naming_the_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as refused:
        textable(typed, PL)
    assert refused.value.status == 422 and refused.value.code == "invalid_phone"
    assert refused.value.extra == {"reason": reason}
    assert f"({reason})" in refused.value.detail and "Phone number" in refused.value.detail


def test_a_long_refused_input_is_shortened_in_the_detail() -> None:
    with pytest.raises(InvalidPhone) as refused:
        textable("9" * 500, PL)
    assert len(refused.value.detail) < 200


def test_the_country_of_a_stored_number() -> None:
    assert country_of("+48601234567") == "PL"
    assert country_of("+4915123456789") == "DE"
    assert country_of("garbage") is None
