"""How a typed code is read: the same forms for login codes and authorization codes."""

from __future__ import annotations

import pytest

from authsvc.core.codes import ScriptedCodes, normalise_code, random_code


@pytest.mark.parametrize("typed", ["042917", "042 917", "042-917", " 042917 ", "042 917\n"])
def test_the_accepted_forms(typed: str) -> None:
    assert normalise_code(typed) == "042917"


@pytest.mark.parametrize(
    "typed", ["42917", "0429170", "04 29 17", "042--917", "042  917", "abcdef", "０４２９１７", ""]
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert normalise_code(typed) is None


def test_random_codes_are_six_digits() -> None:
    assert all(len(code) == 6 and code.isdigit() for code in (random_code() for _ in range(50)))


def test_scripted_codes_come_in_order() -> None:
    codes = ScriptedCodes(["111111", "222222"])
    assert (codes(), codes()) == ("111111", "222222")
