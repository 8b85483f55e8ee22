"""The authenticator app's rules without a database: RFC 6238's own test vectors through
our verification function, the skew of one step either way, typed-code forms."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from authsvc.factors import rules

# RFC 6238 Appendix B, the SHA-1 rows: the seed is the ASCII "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "code"), RFC_VECTORS)
def test_rfc_6238_appendix_b_sha1_vectors_are_accepted_at_their_step(
    unix_time: int, code: str
) -> None:
    moment = datetime.fromtimestamp(unix_time, UTC)
    step = rules.matching_step(RFC_SECRET, code, moment, digits=8)
    assert step == unix_time // 30


def test_a_vector_is_refused_two_steps_away() -> None:
    moment = datetime.fromtimestamp(1111111109, UTC) + timedelta(seconds=60)
    assert rules.matching_step(RFC_SECRET, "07081804", moment, digits=8) is None


# A fixed secret and time: the codes of nearby steps are known to differ.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2026, 12, 3, 12, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_one_step_of_skew_either_way_is_accepted(offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(NOW + timedelta(seconds=30 * offset))
    assert rules.matching_step(SECRET, code, NOW) == rules.time_step(NOW) + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_of_skew_are_refused(offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(NOW + timedelta(seconds=30 * offset))
    near = {pyotp.TOTP(SECRET).at(NOW + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    assert code not in near  # the premise, fixed by the secret and time above
    assert rules.matching_step(SECRET, code, NOW) is None


def test_a_secret_carries_160_bits() -> None:
    assert len(base64.b32decode(rules.new_totp_secret())) == 20


@pytest.mark.parametrize("typed", ["123456", " 123 456 ", "123-456"])
def test_typed_forms_of_an_app_code(typed: str) -> None:
    assert rules.normalise_totp(typed) == "123456"


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12 34 56", "abcdef", "１２３４５６"])
def test_malformed_app_codes_match_nothing(typed: str) -> None:
    assert rules.normalise_totp(typed) is None
    assert rules.matching_step(rules.new_totp_secret(), typed, datetime.now(UTC)) is None


def test_recovery_codes_carry_80_bits_in_four_groups() -> None:
    code = rules.new_recovery_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert set(code.replace("-", "")) <= set(rules.RECOVERY_ALPHABET)
    assert len(rules.RECOVERY_ALPHABET) ** rules.RECOVERY_SYMBOLS >= 2**80


def test_recovery_codes_are_read_in_any_case_without_dashes_or_spaces() -> None:
    code = rules.new_recovery_code()
    typed = " " + code.upper().replace("-", " ") + " "
    assert rules.normalise_recovery_code(typed) == code.replace("-", "")


@pytest.mark.parametrize("typed", ["", "abcd-efgh", "abcd-efgh-jkmn-pqrs-t", "iiii-llll-oooo-uuuu"])
def test_malformed_recovery_codes_are_none(typed: str) -> None:
    assert rules.normalise_recovery_code(typed) is None
