from __future__ import annotations

import pytest

from authsvc.accounts import repository
from authsvc.accounts.errors import (
    InvalidChannel,
    InvalidEmail,
    InvalidPhone,
    LoginTaken,
    WeakPassword,
)
from authsvc.accounts.policy import check_password, common_passwords
from authsvc.accounts.service import create_account, normalise_phone
from authsvc.context import ServiceContext
from tests.cli import run_cli
from tests.conftest import make_settings
from tests.factories import PASSWORD, make_account


def check(password: str, *, login: str = "") -> None:
    check_password(password, min_length=8, max_length=128, login=login)


# --- password policy ---------------------------------------------------------------


def test_password_shorter_than_eight_characters_is_refused() -> None:
    with pytest.raises(WeakPassword, match="at least 8"):
        check("Zx9!kq2")


def test_the_common_list_holds_3000_passwords_the_length_rule_would_let_through() -> None:
    """ASVS 5.0 V6.2.4: at least the 3,000 most common passwords that meet the policy."""
    assert len({word for word in common_passwords() if len(word) >= 8}) >= 3000


def test_common_password_is_refused_whatever_its_case() -> None:
    assert "password123" in common_passwords()
    with pytest.raises(WeakPassword, match="commonly used"):
        check("PassWord123")


def test_long_password_is_accepted_and_never_truncated() -> None:
    check("x" * 64 + " and more")
    with pytest.raises(WeakPassword, match="at most 128"):
        check("y" * 129)


def test_no_composition_rules_apply() -> None:
    check("just lowercase words here")


def test_password_equal_to_login_is_refused() -> None:
    with pytest.raises(WeakPassword, match="login"):
        check("JanKowalski", login="jankowalski")


def test_a_password_built_on_a_context_word_is_refused() -> None:
    """ASVS 5.0 V6.2.11: the service's own names (AUTHSVC_PASSWORD_CONTEXT_WORDS), in any
    case, need the minimum length of the customer's own besides them."""
    words = make_settings().password_context_words
    assert "panel klienta" in words and "authsvc" in words
    for password in ("Panel Klienta2024!", "authsvc-123", "HOSTINGNAME2024", "xhostingnamex"):
        with pytest.raises(WeakPassword, match="built on") as refused:
            check_password(
                password, min_length=8, max_length=128,
                context_words=[*words, "HostingName"],
            )  # fmt: skip
        assert refused.value.extra["reason"] == "context_word"
    # A passphrase that mentions a name beside enough of its own is fine, as are short words.
    for password in ("my panel klienta is where i pay invoices", "ab12cd34ef"):
        check_password(password, min_length=8, max_length=128, context_words=[*words, "ab"])


def test_the_context_words_are_a_comma_separated_setting() -> None:
    settings = make_settings(password_context_words="Hosting Name, Panel")
    assert settings.password_context_words == ["Hosting Name", "Panel"]


# --- contact data ------------------------------------------------------------------


def test_phone_is_stored_in_e164() -> None:
    assert normalise_phone("+48 601 234 567", ["PL"]) == "+48601234567"


@pytest.mark.parametrize("phone", ["601234567", "+48 12", "phone"])
def test_phone_without_country_code_or_invalid_is_refused(phone: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(phone, ["PL"])


async def test_login_is_unique_regardless_of_case(ctx: ServiceContext) -> None:
    await make_account(ctx, login="Jan.Kowalski")
    with pytest.raises(LoginTaken):
        await make_account(ctx, login="jan.kowalski")


async def test_login_lookup_ignores_case(ctx: ServiceContext) -> None:
    created = await make_account(ctx, login="MixedCase")
    async with ctx.db.transaction() as session:
        found = await repository.get_by_login(session, "mixedcase")
    assert found is not None and found.id == created.id


async def test_sms_channel_needs_a_phone(ctx: ServiceContext) -> None:
    with pytest.raises(InvalidChannel):
        await make_account(ctx, channel="sms")


async def test_bad_email_is_refused(ctx: ServiceContext) -> None:
    async with ctx.db.transaction() as session:
        with pytest.raises(InvalidEmail):
            await create_account(
                session,
                login="someone",
                email="not-an-email",
                password_hash="x",
                now=ctx.clock.now(),
                sms_countries=["PL"],
            )


async def test_password_hash_is_argon2id_with_configured_parameters(ctx: ServiceContext) -> None:
    account = await make_account(ctx)
    assert account.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await ctx.hasher.verify(account.password_hash, PASSWORD)
    assert not await ctx.hasher.verify(account.password_hash, PASSWORD + "!")


# --- CLI -----------------------------------------------------------------------------


@pytest.mark.usefixtures("ctx")
def test_cli_creates_lists_disables_and_enables_an_account(cli_env: dict[str, str]) -> None:
    created = run_cli(
        "accounts", "create", "--login", "anna", "--email", "anna@example.com",
        "--phone", "+48601234567", "--channel", "sms", "--locale", "en",
        env=cli_env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created account anna" in created.stdout

    listed = run_cli("accounts", "list", env=cli_env)
    assert "anna@example.com" in listed.stdout and "+48601234567" in listed.stdout
    assert "active" in listed.stdout

    assert run_cli("accounts", "disable", "anna", env=cli_env).returncode == 0
    assert "disabled" in run_cli("accounts", "list", env=cli_env).stdout
    assert run_cli("accounts", "enable", "ANNA", env=cli_env).returncode == 0
    assert "active" in run_cli("accounts", "list", env=cli_env).stdout


@pytest.mark.usefixtures("ctx")
@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--email", "bad"], PASSWORD, "not a valid e-mail"),
        (["--email", "a@example.com", "--phone", "12345"], PASSWORD, "phone"),
        (["--email", "a@example.com", "--channel", "sms"], PASSWORD, "needs a phone"),
        (["--email", "a@example.com"], "qwerty123", "commonly used"),
        (["--email", "a@example.com"], "short", "at least 8"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(
    cli_env: dict[str, str], args: list[str], password: str, message: str
) -> None:
    result = run_cli(
        "accounts", "create", "--login", "bob", *args, env=cli_env, stdin=password + "\n"
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("ctx")
def test_cli_refuses_a_duplicate_login(cli_env: dict[str, str]) -> None:
    args = ["accounts", "create", "--login", "carol", "--email", "c@example.com"]
    assert run_cli(*args, env=cli_env, stdin=PASSWORD).returncode == 0
    again = run_cli(*args[:3], "CAROL", *args[4:], env=cli_env, stdin=PASSWORD)
    assert again.returncode == 1
    assert "already exists" in again.stderr and again.stderr.count("\n") == 1


def test_cli_reports_an_unreachable_database_in_one_line(cli_env: dict[str, str]) -> None:
    env = cli_env | {"AUTHSVC_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    result = run_cli("accounts", "list", env=env)
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_help_shows_the_defaults(cli_env: dict[str, str]) -> None:
    shown = run_cli("accounts", "create", "--help", env=cli_env).stdout
    assert "(default: email)" in shown and "(default: pl)" in shown
    assert "(default: 1000)" in run_cli("purge", "--help", env=cli_env).stdout
