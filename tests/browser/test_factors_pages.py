"""Two-step login in real Chromium: the authenticator app and recovery codes, end to end.

The secret is read from the page the way a customer would type it into an app, and the
codes are computed with `pyotp` (an implementation we did not write), on the wall clock
the service under test also runs on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest

from tests.browser.conftest import Browsing, Customer, Stack, chromium_missing

if (missing := chromium_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.browser.helpers import shoot, sign_in

STEP = 30  # RFC 6238's time step, the service's too
RECOVERY_CODE = re.compile(r"^[0-9a-z]{4}(-[0-9a-z]{4}){3}$")


def step_now() -> int:
    return int(time.time()) // STEP


def code_at(totp: pyotp.TOTP, step: int) -> str:
    return totp.at(step * STEP)


def password_login(page: Page, base: str, customer: Customer) -> None:
    """Login and password on the sign-in page, in English; the second step comes next."""
    page.goto(f"{base}/panel/")
    page.get_by_label("Login", exact=True).fill(customer.login)
    page.get_by_label("Password", exact=True).fill(customer.password)
    page.get_by_role("button", name="Log in").click()


def reauthenticate(page: Page, password: str) -> None:
    dialog = page.get_by_role("dialog", name="Confirm with your password")
    expect(dialog).to_be_visible()
    field = dialog.get_by_label("Panel password")
    expect(field).to_be_focused()
    field.fill(password)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_hidden()


def read_secret(page: Page) -> str:
    """The key shown for typing into an app, once the enrolment is on the page."""
    shown = page.locator("#totp-secret")
    expect(shown).to_have_text(re.compile(r"^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$"))
    return shown.inner_text().replace(" ", "")


def open_two_step_page(page: Page) -> None:
    page.get_by_role("link", name="Two-step login").click()
    expect(page.get_by_role("heading", name="Two-step login", level=1)).to_be_visible()
    expect(page.locator("#totp-state")).not_to_be_empty()


def test_enroll_the_app_then_sign_in_with_it_a_replay_refused_and_a_recovery_code(
    stack: Stack, browsing: Browsing, screenshots: Path
) -> None:
    ben = stack.customer("ben")
    context, _ = browsing.context(
        locale="en-US", accept_downloads=True, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    sign_in(page, stack, ben)
    open_two_step_page(page)
    expect(page.locator("#email-value")).to_have_text(ben.email)
    expect(page.locator("#email-state")).to_have_text("verified")
    expect(page.locator("#totp-state")).to_have_text("No authenticator app is set up.")
    expect(page.locator("#codes-state")).to_have_text(
        "You get recovery codes once an authenticator app is set up."
    )

    # Setting up needs the password again (403 reauthentication_required, then a retry).
    page.get_by_role("button", name="Set up the app").click()
    reauthenticate(page, ben.password)
    enroll_heading = page.get_by_role("heading", name="Add the account to your app")
    expect(enroll_heading).to_be_focused()
    qr = page.get_by_role("img", name="QR code for adding the account to an authenticator app")
    expect(qr).to_be_visible()
    # The SVG from the API really rendered under the page's CSP (a blocked image has no size).
    assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")  # type: ignore[union-attr]
    secret = read_secret(page)
    totp = pyotp.TOTP(secret)
    shoot(page, screenshots, "two-step-login")

    # A wrong first code is refused next to the form, and the app stays off.
    confirm_field = page.get_by_label("Code from the app (6 digits)")
    expect(confirm_field).to_have_attribute("autocomplete", "one-time-code")
    enrolled_step = step_now()
    good = code_at(totp, enrolled_step)
    confirm_field.fill(f"{(int(good) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Turn on the app").click()
    expect(page.locator("#app-alert")).to_have_text(re.compile(r"^The code does not match\."))
    expect(page.locator("#app-alert")).to_have_attribute("aria-live", "assertive")
    expect(confirm_field).to_be_focused()

    confirm_field.fill(good)
    page.get_by_role("button", name="Turn on the app").click()
    expect(page.locator("#app-status")).to_have_text(
        "The authenticator app is on. From now on we will ask for its code when you sign in."
    )
    expect(page.locator("#totp-state")).to_have_text(
        re.compile(r"^The authenticator app is on since ")
    )

    # The first set of recovery codes, shown once, with focus on it.
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_focused()
    items = page.locator("#codes-list li")
    expect(items).to_have_count(10)
    codes = items.all_inner_texts()
    assert all(RECOVERY_CODE.match(code) for code in codes), codes
    assert len(set(codes)) == 10
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#codes-status")).to_have_text("The codes were copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(codes)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download as .txt").click()
    download = download_info.value
    assert download.suggested_filename == "recovery-codes-ben.txt"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.splitlines()[-10:] == codes
    # Print puts only the codes on paper (the dialog itself is the browser's, not clicked here).
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.printed") is True
    page.emulate_media(media="print")
    expect(page.locator("#codes-list")).to_be_visible()
    expect(page.get_by_role("heading", name="Two-step login", level=1)).not_to_be_visible()
    page.emulate_media(media="screen")
    page.get_by_role("button", name="I have saved the codes").click()
    expect(items).to_have_count(0)
    expect(page.locator("#codes-state")).to_have_text(re.compile(r"^Codes left: 10 "))
    expect(page.locator("#preferred-totp")).to_be_checked()
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")

    # Sign in with the app: nothing is sent, so nothing to resend.
    mails_before = stack.mailbox.count(ben.email)
    password_login(page, stack.api.origin, ben)
    app_field = page.get_by_label("Code from the app (6 digits)")
    expect(app_field).to_be_focused()
    expect(app_field).to_have_attribute("autocomplete", "one-time-code")
    expect(page.get_by_role("heading", name="Enter the code from your app")).to_be_visible()
    expect(page.get_by_role("button", name="Send a new code")).to_be_hidden()
    expect(page.get_by_role("button", name="Use a recovery code")).to_be_visible()
    # Codes by e-mail are not a fallback for this account, so none is offered.
    expect(page.get_by_role("button", name="Send by e-mail instead")).to_be_hidden()
    assert stack.mailbox.count(ben.email) == mails_before
    # The enrolment spent its step; the next one is within the accepted skew of +1.
    login_step = enrolled_step + 1
    login_code = code_at(totp, login_step)
    app_field.fill(login_code)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as ben")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")

    # The same code again, while it would still be in time: refused, visibly.
    password_login(page, stack.api.origin, ben)
    expect(app_field).to_be_focused()
    app_field.fill(login_code)
    page.get_by_role("button", name="Confirm").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        "Wrong code, or one already used. Wait for the next code in the app. Attempts left: 4."
    )
    expect(page.locator("#app-attempts-left")).to_have_text("Attempts left: 4.")
    # Refused as a replay, not for its age: the service accepts steps up to one behind.
    assert step_now() <= login_step + 1, "too slow to tell a replay from an old code"

    # The same challenge, with a recovery code typed in capitals with spaces.
    page.get_by_role("button", name="Use a recovery code").click()
    recovery_field = page.get_by_label("Recovery code", exact=True)
    expect(recovery_field).to_be_focused()
    expect(page.locator("#recovery-attempts-left")).to_have_text("Attempts left: 4.")
    recovery_field.fill(codes[3].upper().replace("-", " "))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as ben")
    page.get_by_role("link", name="Two-step login").click()
    expect(page.locator("#codes-state")).to_have_text(re.compile(r"^Codes left: 9 "))
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")

    # A used recovery code does not work twice.
    password_login(page, stack.api.origin, ben)
    page.get_by_role("button", name="Use a recovery code").click()
    recovery_field.fill(codes[3])
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Wrong recovery code, or one already used. Attempts left: 4."
    )
    expect(recovery_field).to_be_focused()


def test_polish_page_password_dialog_and_wrong_first_code(stack: Stack, browsing: Browsing) -> None:
    anna = stack.customer("anna")
    page = browsing.page(locale="pl-PL")
    page.goto(f"{stack.api.origin}/panel/")
    page.get_by_label("Login", exact=True).fill(anna.login)
    page.get_by_label("Hasło", exact=True).fill(anna.password)
    page.get_by_role("button", name="ZALOGUJ SIĘ", exact=True).click()
    page.get_by_label("Kod jednorazowy (6 cyfr)").fill(stack.mailbox.next_code(anna.email))
    page.get_by_role("button", name="Potwierdź").click()
    expect(page.locator("#who")).to_have_text("Zalogowano jako anna")

    page.get_by_role("link", name="Logowanie dwuetapowe").click()
    expect(page).to_have_title("Logowanie dwuetapowe – Panel Klienta")
    expect(page.get_by_role("heading", name="Logowanie dwuetapowe", level=1)).to_be_visible()
    expect(page.locator(".crumbs")).to_have_text(
        re.compile(r"Twoje dane\s*→\s*Logowanie dwuetapowe")
    )
    expect(page.locator("#phone-value")).to_have_text(anna.phone or "")
    expect(page.locator("#phone-state")).to_have_text("potwierdzony")
    expect(page.locator("#totp-state")).to_have_text("Aplikacja nie jest skonfigurowana.")

    # A wrong password in the dialog: said in its own alert, the dialog stays open.
    page.get_by_role("button", name="Skonfiguruj aplikację").click()
    dialog = page.get_by_role("dialog", name="Potwierdź hasłem")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Hasło do panelu").fill("not-the-password")
    dialog.get_by_role("button", name="Potwierdź").click()
    expect(page.locator("#reauth-alert")).to_have_text("Nieprawidłowe hasło.")
    expect(dialog.get_by_label("Hasło do panelu")).to_be_focused()
    dialog.get_by_label("Hasło do panelu").fill(anna.password)
    dialog.get_by_role("button", name="Potwierdź").click()
    expect(dialog).to_be_hidden()

    expect(page.get_by_role("heading", name="Dodaj konto w aplikacji")).to_be_focused()
    good = pyotp.TOTP(read_secret(page)).now()
    page.get_by_label("Kod z aplikacji (6 cyfr)").fill(f"{(int(good) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Włącz aplikację").click()
    expect(page.locator("#app-alert")).to_have_text(re.compile(r"^Kod się nie zgadza\."))

    # Within the window no password is asked again; cancelling leaves the app off.
    page.locator("#enroll-cancel").click()
    expect(page.locator("#totp-state")).to_have_text("Aplikacja nie jest skonfigurowana.")
    expect(page.get_by_role("button", name="Skonfiguruj aplikację")).to_be_focused()
    page.get_by_role("button", name="Skonfiguruj aplikację").click()
    expect(page.get_by_role("heading", name="Dodaj konto w aplikacji")).to_be_focused()
    expect(page.get_by_role("dialog")).to_be_hidden()


def test_fallback_on_sends_a_code_instead_of_the_app_then_the_app_is_removed(
    stack: Stack, browsing: Browsing
) -> None:
    dora = stack.customer("dora")
    page = browsing.page(locale="en-US")
    sign_in(page, stack, dora)
    open_two_step_page(page)
    page.get_by_role("button", name="Set up the app").click()
    reauthenticate(page, dora.password)
    secret = read_secret(page)
    page.get_by_label("Code from the app (6 digits)").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on the app").click()
    expect(page.locator("#codes-list li")).to_have_count(10)
    page.get_by_role("button", name="I have saved the codes").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_focused()

    fallback = page.get_by_label("Keep codes by e-mail and SMS as a fallback")
    expect(fallback).not_to_be_checked()
    expect(fallback).to_be_enabled()
    # E-mail first is refused while codes are not a fallback.
    page.get_by_label("A code by e-mail").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#preferred-alert")).to_have_text(
        re.compile(r"^Codes by e-mail and SMS are off because you have the app\.")
    )
    page.get_by_label("A code from the authenticator app").check()
    fallback.check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#preferred-status")).to_have_text("Saved.")
    page.reload()
    expect(fallback).to_be_checked()
    expect(page.get_by_label("A code from the authenticator app")).to_be_checked()
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")

    # The app is asked first; without the phone at hand a code by e-mail still finishes.
    password_login(page, stack.api.origin, dora)
    expect(page.get_by_label("Code from the app (6 digits)")).to_be_focused()
    page.get_by_role("button", name="Send by e-mail instead").click()
    code_field = page.get_by_label("One-time code (6 digits)")
    expect(code_field).to_be_focused()
    expect(page.locator("#sent-to")).to_have_text(re.compile(r"^We sent a code by e-mail to d"))
    expect(page.get_by_role("button", name="Use the authenticator app")).to_be_visible()
    code_field.fill(stack.mailbox.next_code(dora.email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as dora")

    # A new session: removing the app asks for the password again.
    open_two_step_page(page)
    page.get_by_role("button", name="Remove the app").click()
    reauthenticate(page, dora.password)
    expect(page.locator("#app-status")).to_have_text("The authenticator app was removed.")
    expect(page.locator("#totp-state")).to_have_text("No authenticator app is set up.")
    expect(page.get_by_role("button", name="Set up the app")).to_be_focused()
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")
    password_login(page, stack.api.origin, dora)
    expect(page.get_by_label("One-time code (6 digits)")).to_be_focused()
    expect(page.get_by_role("button", name="Use the authenticator app")).to_be_hidden()


def test_change_the_email_address_with_a_code_sent_to_the_new_one(
    stack: Stack, browsing: Browsing
) -> None:
    """The contacts section against the real API: the new address gets the code, a wrong
    code is refused with what is left, the right one changes the address shown."""
    jola = stack.customer("jola")
    context, _ = browsing.context(locale="en-US")
    page = context.new_page()
    sign_in(page, stack, jola)
    open_two_step_page(page)
    new_address = f"jola.new.{int(time.time())}@example.com"

    page.get_by_role("button", name="Change e-mail").click()
    page.get_by_label("New e-mail address").fill(new_address)
    page.locator("#contact-send").click()
    reauthenticate(page, jola.password)
    expect(page.locator("#contact-sent")).to_have_text(f"We sent a code to {new_address}.")
    code_field = page.locator("#contact-code")
    expect(code_field).to_be_focused()
    code = stack.mailbox.next_code(new_address)

    code_field.fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.locator("#contact-confirm").click()
    expect(page.locator("#contacts-alert")).to_contain_text("4")
    code_field.fill(code)
    page.locator("#contact-confirm").click()
    expect(page.locator("#contacts-status")).to_have_text(
        "Your e-mail address was changed and verified. The previous address was notified."
    )
    expect(page.locator("#email-value")).to_have_text(new_address)
    expect(page.locator("#email-state")).to_have_text("verified")
