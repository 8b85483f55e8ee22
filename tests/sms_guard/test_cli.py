"""The operator's side: `accounts create` refuses numbers codes cannot be texted to, in one
line that names the reason; `sms status` prints each budget's use this hour."""

from __future__ import annotations

import pytest

from authsvc.accounts.phones import Textable
from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.sms_guard import service as sms_guard
from authsvc.sms_guard.rules import HOUR
from tests.cli import run_cli
from tests.factories import PASSWORD
from tests.sms_guard.helpers import OTHER_PREFIX, PREFIX, number


def create(env: dict[str, str], phone: str, login: str = "texter") -> tuple[int, str]:
    result = run_cli(
        "accounts", "create", "--login", login, "--email", f"{login}@example.com",
        f"--phone={phone}", "--channel", "sms", env=env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    return result.returncode, result.stderr


@pytest.mark.usefixtures("ctx")
@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("+48 601 ABC DEF", "invalid"),  # letters
        ("4" * 40, "invalid"),
        ("+" + "4" * 40, "invalid"),
        ("+", "invalid"),
        ("٠١٢", "invalid"),  # Unicode digits
        ("   ", "invalid"),  # spaces
        ("+48 22 123 45 67", "not_mobile"),
        ("+48 700 123 456", "not_mobile"),
        ("+49 1512 3456789", "country_not_allowed"),
    ],
)
def test_accounts_create_refuses_a_number_in_one_line_naming_the_reason(
    cli_env: dict[str, str], phone: str, reason: str
) -> None:
    code, stderr = create(cli_env, phone)
    assert code == 1
    assert f"refused ({reason})" in stderr and "Phone number" in stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr


@pytest.mark.usefixtures("ctx")
def test_accounts_create_takes_numbers_of_the_configured_countries(
    cli_env: dict[str, str],
) -> None:
    env = cli_env | {"AUTHSVC_SMS_COUNTRIES": "pl,de"}
    code, stderr = create(env, "+49 1512 3456789")
    assert code == 0, stderr
    assert "+4915123456789" in run_cli("accounts", "list", env=env).stdout


@pytest.mark.usefixtures("ctx")
def test_an_unknown_country_stops_the_command_naming_the_variable(
    cli_env: dict[str, str],
) -> None:
    result = run_cli("accounts", "list", env=cli_env | {"AUTHSVC_SMS_COUNTRIES": "PL,XX"})
    assert result.returncode == 2
    assert "AUTHSVC_SMS_COUNTRIES" in result.stderr and "'XX'" in result.stderr


async def test_sms_status_prints_each_budgets_use_this_hour(
    ctx: ServiceContext, clock: MovableClock, cli_env: dict[str, str]
) -> None:
    # The command reads the real clock: the same use is written in this hour and the next,
    # so it finds it even when the hour turns while it starts.
    for _ in range(2):
        busy = Textable(number(PREFIX, 1), "PL")
        for _ in range(5):
            assert await sms_guard.reserve(ctx, number=busy, ip="198.51.100.7") is None
        await sms_guard.reserve(ctx, number=Textable(number(OTHER_PREFIX, 1), "PL"), ip="::1")
        assert await sms_guard.reserve(ctx, number=busy, ip="198.51.100.7") == "number"
        clock.advance(HOUR)
    result = run_cli("sms", "status", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0][:5] == ["SMS", "budgets", "of", "the", "hour"]
    assert lines[1:] == [
        ["BUDGET", "SUBJECT", "USED", "LIMIT", "STATE"],
        ["service", "*", "6", "2000"],
        ["country", "PL", "6", "1000"],
        ["prefix", PREFIX, "5", "20"],
        ["prefix", OTHER_PREFIX, "1", "20"],
        ["number", number(PREFIX, 1), "5", "5", "spent"],
        ["number", number(OTHER_PREFIX, 1), "1", "5"],
        ["ip", "198.51.100.7", "5", "10"],
        ["ip", "::/64", "1", "10"],
    ]
