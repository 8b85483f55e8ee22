"""The panel's account protection in real Chromium: "Forgot your password?", a sign-in refused
until a reset after "this wasn't me", the session list and changing the password.

The same real service, SMTP server and SMS gateway as the other browser tests; codes and
links are read where the customer would read them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.browser.conftest import Browsing, Stack, chromium_missing
from tests.util import wrong

if (missing := chromium_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.browser.helpers import shoot, sign_in, start_login

NOT_ME_PATH = re.compile(r"/not-me/[A-Za-z0-9_\-]+")
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
)


def finish_sign_in_by_sms(page: Page, stack: Stack, number: str) -> None:
    page.locator("#code").fill(stack.sms.next_code(number))
    page.get_by_role("button", name="Potwierdź").click()
    expect(page).to_have_url(re.compile(r"/panel/code\.html$"))


def test_forgot_password_by_sms_in_polish_then_sign_in_with_the_new_one(
    stack: Stack, browsing: Browsing, screenshots: Path
) -> None:
    cezary = stack.customer("cezary")  # codes come by SMS
    assert cezary.phone is not None
    new_password = "zielona herbata o północy"
    page = browsing.page(locale="pl-PL")
    page.goto(f"{stack.api.origin}/panel/")
    page.get_by_label("Login", exact=True).fill(cezary.login)
    page.get_by_role("button", name="Nie pamiętasz hasła?").click()

    expect(page.get_by_role("heading", name="Ustaw nowe hasło")).to_be_visible()
    expect(page.get_by_label("Twój login")).to_have_value("cezary")
    send = page.get_by_role("button", name="Wyślij kod")
    expect(send).to_be_focused()
    shoot(page, screenshots, "password-reset")
    send.click()

    code_field = page.get_by_label("Kod z wiadomości (6 cyfr)")
    expect(code_field).to_be_focused()
    expect(page.locator("#reset-sent")).to_have_text(
        re.compile(r"^Jeśli konto o loginie cezary istnieje, wysłaliśmy kod")
    )
    expect(page.locator("#reset-code-expiry")).to_have_text(
        re.compile(r"^Kod wygaśnie za (9|10):\d\d\.$")
    )
    resend = page.get_by_role("button", name="Wyślij kod jeszcze raz")
    expect(resend).to_be_disabled()  # until resend_after
    first = stack.sms.next_code(cezary.phone)
    shoot(page, screenshots, "password-reset-code")

    new_password_field = page.get_by_label("Nowe hasło", exact=True)
    code_field.fill(wrong(first))
    new_password_field.fill(new_password)
    page.get_by_role("button", name="Ustaw nowe hasło").click()
    expect(page.locator("#alert")).to_have_text("Nieprawidłowy kod. Pozostałe próby: 4.")
    expect(page.locator("#reset-attempts-left")).to_have_text("Pozostałe próby: 4.")

    # The right code with a password the policy refuses: the reason, in Polish.
    code_field.fill(first)
    new_password_field.fill("krótkie")
    page.get_by_role("button", name="Ustaw nowe hasło").click()
    expect(page.locator("#alert")).to_have_text(
        "Nowe hasło jest za krótkie: musi mieć co najmniej 8 znaków (zalecamy 15 lub więcej)."
    )
    expect(new_password_field).to_be_focused()

    # A new code after the cooldown; only it works from now on.
    expect(resend).to_be_enabled(timeout=5_000)
    resend.click()
    expect(page.locator("#status")).to_have_text("Wysłaliśmy nowy kod. Poprzedni już nie działa.")
    second = stack.sms.next_code(cezary.phone)
    code_field.fill(second)
    new_password_field.fill(new_password)
    page.get_by_role("button", name="Ustaw nowe hasło").click()

    # Back at the sign-in form, which says what to do next.
    expect(page.locator("#status")).to_have_text(
        "Hasło zostało zmienione. Zaloguj się nowym hasłem."
    )
    expect(page.get_by_label("Login", exact=True)).to_have_value("cezary")
    expect(page.get_by_label("Hasło", exact=True)).to_be_focused()

    page.get_by_label("Hasło", exact=True).fill(cezary.password)
    page.get_by_role("button", name="ZALOGUJ SIĘ", exact=True).click()
    expect(page.locator("#alert")).to_have_text("Nieprawidłowy login lub hasło.")
    page.get_by_label("Hasło", exact=True).fill(new_password)
    page.get_by_role("button", name="ZALOGUJ SIĘ", exact=True).click()
    finish_sign_in_by_sms(page, stack, cezary.phone)
    expect(page.locator("#who")).to_have_text("Zalogowano jako cezary")


def test_reset_of_an_unknown_login_looks_the_same_and_no_code_works(
    stack: Stack, browsing: Browsing
) -> None:
    page = browsing.page(locale="en-US")
    page.goto(f"{stack.api.origin}/panel/")
    page.get_by_role("button", name="Forgot your password?").click()
    page.get_by_role("button", name="Send the code").click()
    expect(page.locator("#alert")).to_have_text("Enter your login.")
    page.get_by_label("Your login").fill("nobody-here")
    page.get_by_role("button", name="Send the code").click()
    expect(page.locator("#reset-sent")).to_have_text(
        re.compile(r"^If an account with the login nobody-here exists, we sent a code")
    )
    for attempts_left in (4, 3, 2, 1):
        page.get_by_label("Code from the message (6 digits)").fill("123456")
        page.get_by_label("New password", exact=True).fill("a perfectly fine new password")
        page.get_by_role("button", name="Set the new password").click()
        expect(page.locator("#alert")).to_have_text(f"Wrong code. Attempts left: {attempts_left}.")
    page.get_by_label("Code from the message (6 digits)").fill("123456")
    page.get_by_role("button", name="Set the new password").click()
    # The reset is used up: back to its first step, the login still there.
    expect(page.locator("#alert")).to_have_text("Too many wrong codes. Ask for a new code.")
    expect(page.get_by_label("Your login")).to_have_value("nobody-here")
    page.get_by_role("button", name="Back to sign in").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_sign_in_after_this_wasnt_me_asks_for_a_reset_and_the_reset_lets_in(
    stack: Stack, browsing: Browsing
) -> None:
    ben = stack.customer("ben")
    page = browsing.page(locale="en-US")
    sign_in(page, stack, ben)
    # The "new sign-in" e-mail's link, opened and confirmed as the customer would.
    link = stack.mailbox.last_match(ben.email, NOT_ME_PATH)
    page.goto(stack.api.origin + link)
    page.get_by_role("button", name="Secure my account").click()
    expect(page.locator("main")).to_contain_text("Your account is secured")

    page.goto(f"{stack.api.origin}/panel/")
    page.get_by_label("Login", exact=True).fill(ben.login)
    page.get_by_label("Password", exact=True).fill(ben.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#alert")).to_have_text(
        re.compile(r"^For your safety this account was secured, and a new password must be set")
    )
    expect(page.get_by_label("Your login")).to_have_value("ben")
    send = page.get_by_role("button", name="Send the code")
    expect(send).to_be_focused()
    send.click()

    new_password = "a brand new passphrase for ben"
    page.get_by_label("Code from the message (6 digits)").fill(stack.mailbox.next_code(ben.email))
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#status")).to_have_text(
        "Your password has been changed. Sign in with your new password."
    )
    sign_in(page, stack, dataclasses.replace(ben, password=new_password))


def test_sessions_from_two_browsers_and_signing_the_other_out(
    stack: Stack, browsing: Browsing, screenshots: Path
) -> None:
    dora = stack.customer("dora")
    mine = browsing.page(locale="en-US")
    sign_in(mine, stack, dora)

    def other_browser() -> Page:
        # Another device: its own user agent, and its own address through the proxy.
        page = browsing.page(
            locale="en-US",
            user_agent=FIREFOX_ON_WINDOWS,
            extra_http_headers={"X-Forwarded-For": "198.51.100.23"},
        )
        sign_in(page, stack, dora)
        return page

    other = other_browser()
    mine.reload()
    sessions = mine.locator("#sessions > li")
    expect(sessions).to_have_count(2)
    this_one = sessions.filter(has_text="This device")
    that_one = sessions.filter(has_text="198.51.100.23")
    expect(this_one).to_have_count(1)
    expect(this_one.get_by_role("button")).to_have_count(0)
    expect(that_one).to_contain_text("Firefox 120 on Windows")
    expect(that_one).to_contain_text(re.compile(r"last used \d\d/\d\d/\d{4}, \d\d:\d\d:\d\d"))
    shoot(mine, screenshots, "sessions")

    # One session signed out by its own button.
    that_one.get_by_role("button", name="Sign out").click()
    expect(mine.locator("#sessions-status")).to_have_text("Signed out: Firefox 120 on Windows.")
    expect(sessions).to_have_count(1)
    expect(mine.locator("#sessions-alone")).to_have_text("You are not signed in anywhere else.")
    expect(mine.get_by_role("button", name="Sign out everywhere else")).to_be_hidden()
    other.reload()
    expect(other.locator("#alert")).to_have_text(re.compile(r"^Your session has expired"))

    # Signed in there again; then everywhere else at once.
    other = other_browser()
    mine.reload()
    expect(sessions).to_have_count(2)
    mine.get_by_role("button", name="Sign out everywhere else").click()
    expect(mine.locator("#sessions-status")).to_have_text("Every other session was signed out.")
    expect(sessions).to_have_count(1)
    expect(mine.locator("#sessions-heading")).to_be_focused()

    # The other page is still open; its next call is refused and it goes to sign-in.
    other.get_by_label("Panel password").fill(dora.password)
    with other.expect_response(f"{stack.api.origin}/auth-codes") as answer:
        other.get_by_role("button", name="Generate code").click()
    assert answer.value.status == 401
    expect(other).to_have_url(re.compile(r"/panel/\?reason=session$"))
    expect(other.locator("#alert")).to_have_text(re.compile(r"^Your session has expired"))
    # This one goes on.
    mine.reload()
    expect(mine.locator("#who")).to_have_text("Signed in as dora")


def test_change_password_form(stack: Stack, browsing: Browsing) -> None:
    emil = stack.customer("emil")
    new_password = "emil picked a longer one"
    page = browsing.page(locale="en-US")
    sign_in(page, stack, emil)
    current = page.get_by_label("Current password")
    new = page.get_by_label("New password", exact=True)
    change = page.get_by_role("button", name="Change password")

    change.click()
    expect(page.locator("#password-alert")).to_have_text(
        "Enter your current password and a new one."
    )
    current.fill("not the password")
    new.fill(new_password)
    change.click()
    expect(page.locator("#password-alert")).to_have_text("The current password is wrong.")
    expect(current).to_be_focused()

    current.fill(emil.password)
    new.fill("password")
    change.click()
    expect(page.locator("#password-alert")).to_have_text(
        "This password is on the list of commonly used passwords. Choose another one."
    )
    expect(new).to_be_focused()

    new.fill(new_password)
    change.click()
    expect(page.locator("#password-status")).to_have_text(
        "Your password has been changed. Your other sessions were signed out."
    )
    expect(page.locator("#password-alert")).to_be_empty()
    expect(current).to_have_value("")
    expect(page.locator("#who")).to_have_text("Signed in as emil")  # this session stays

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Login", exact=True).fill(emil.login)
    page.get_by_label("Password", exact=True).fill(emil.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#alert")).to_have_text("Wrong login or password.")
    start_login(page, stack.api.origin, dataclasses.replace(emil, password=new_password))
    page.locator("#code").fill(stack.mailbox.next_code(emil.email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as emil")
