"""The Client Panel pages and the support console in real Chromium, against a real service.

authsvc runs as `python -m authsvc serve` with a real SMTP server and a real SMS gateway;
codes are read where a customer would read them (the mailbox, the page).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import Browsing, Stack, chromium_missing
from tests.util import wrong

if (missing := chromium_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

from playwright.sync_api import expect

from tests.browser.helpers import shoot, sign_in, start_login, tab_to


def test_polish_two_step_login_wrong_code_then_the_right_one_pasted(
    stack: Stack, browsing: Browsing, screenshots: Path
) -> None:
    anna = stack.customer("anna")
    page = browsing.page(locale="pl-PL")
    page.goto(f"{stack.api.origin}/panel/")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page.get_by_role("button", name="English")).to_be_visible()
    shoot(page, screenshots, "login")

    page.get_by_label("Login", exact=True).fill(anna.login)
    page.get_by_label("Hasło", exact=True).fill(anna.password)
    page.get_by_role("button", name="ZALOGUJ SIĘ", exact=True).click()

    code_field = page.get_by_label("Kod jednorazowy (6 cyfr)")
    expect(code_field).to_be_focused()
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    expect(page.locator("#sent-to")).to_have_text(
        re.compile(r"^Wysłaliśmy kod e-mailem na adres a\*+@example\.com\.$")
    )
    expect(page.locator("#delivery")).to_have_text("Kod został wysłany.")
    expect(page.locator("#code-expiry")).to_have_text(
        re.compile(r"^Kod wygaśnie za (9|10):\d\d\.$")
    )
    expect(page.get_by_role("button", name="Wyślij kod SMS-em")).to_be_visible()
    code = stack.mailbox.next_code(anna.email)
    shoot(page, screenshots, "verification")

    code_field.fill(wrong(code))
    page.get_by_role("button", name="Potwierdź").click()
    expect(page.get_by_role("alert")).to_have_text("Nieprawidłowy kod. Pozostałe próby: 4.")
    expect(page.locator("#attempts-left")).to_have_text("Pozostałe próby: 4.")

    # As pasted from the e-mail, with a space in the middle.
    code_field.fill("")
    code_field.focus()
    page.keyboard.insert_text(f"{code[:3]} {code[3:]}")
    expect(code_field).to_have_value(code)
    page.get_by_role("button", name="Potwierdź").click()

    expect(page).to_have_url(re.compile(r"/panel/code\.html$"))
    expect(page.locator("#who")).to_have_text("Zalogowano jako anna")
    expect(page.locator(".crumbs")).to_have_text(re.compile(r"Twoje dane\s*→\s*Kod autoryzujący"))
    expect(page.locator("#session-email")).to_have_text(anna.email)
    page.get_by_label("Hasło do panelu").fill(anna.password)
    page.get_by_role("button", name="Generuj kod").click()
    expect(page.locator("#code-value")).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    expect(page.locator(".warning")).to_contain_text("Nie przekazuj kodu osobom, którym nie ufasz")
    shoot(page, screenshots, "authorization-code")


def test_english_login_with_the_keyboard_only_then_log_out(
    stack: Stack, browsing: Browsing
) -> None:
    ben = stack.customer("ben")
    page = browsing.page(locale="en-US")
    page.goto(f"{stack.api.origin}/panel/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    log_in = page.get_by_role("button", name="Log in")
    expect(log_in).to_be_visible()

    # The visible switch: to Polish and back, by keyboard.
    switch = page.locator("#lang-switch")
    tab_to(page, switch)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="ZALOGUJ SIĘ", exact=True)).to_be_visible()
    expect(switch).to_have_text("English")
    page.keyboard.press("Enter")
    expect(log_in).to_be_visible()

    tab_to(page, page.get_by_label("Login", exact=True))
    page.keyboard.type(ben.login)
    page.keyboard.press("Tab")
    page.keyboard.type(ben.password)
    page.keyboard.press("Enter")

    code_field = page.get_by_label("One-time code (6 digits)")
    expect(code_field).to_be_focused()
    expect(page.locator("#sent-to")).to_have_text(re.compile(r"^We sent a code by e-mail to "))
    page.keyboard.type(stack.mailbox.next_code(ben.email))
    page.keyboard.press("Enter")

    expect(page.locator("#who")).to_have_text("Signed in as ben")
    expect(page.locator(".crumbs")).to_have_text(
        re.compile(r"Your details\s*→\s*Authorization code")
    )
    tab_to(page, page.get_by_role("button", name="Log out"))
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("You have been logged out.")
    # The session really ended: the account page sends us back to sign in.
    page.goto(f"{stack.api.origin}/panel/code.html")
    expect(page.locator("#alert")).to_have_text(re.compile(r"^Your session has expired"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_failed_sms_is_shown_and_the_code_comes_by_email_instead(
    stack: Stack, browsing: Browsing
) -> None:
    cezary = stack.customer("cezary")
    assert cezary.phone is not None
    stack.sms.failing.add(cezary.phone)
    page = browsing.page(locale="en-US")
    start_login(page, stack.api.origin, cezary)

    expect(page.locator("#sent-to")).to_have_text(re.compile(r"^We sent a code by SMS to \+48"))
    expect(page.locator("#delivery")).to_have_text("The SMS with the code could not be sent.")
    expect(page.get_by_role("alert")).to_have_text(
        "The SMS with your code could not be sent. Send the code by e-mail instead."
    )
    assert any(sms["to"] == cezary.phone for sms in stack.sms.received)

    page.get_by_role("button", name="Send by e-mail instead").click()  # waits out the cooldown
    expect(page.locator("#sent-to")).to_have_text(re.compile(r"^We sent a code by e-mail to c\*+@"))
    expect(page.locator("#delivery")).to_have_text("The code has been sent.")
    page.locator("#code").fill(stack.mailbox.next_code(cezary.email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as cezary")


def test_sms_over_its_budget_is_explained_and_the_code_comes_by_email(
    stack: Stack, browsing: Browsing
) -> None:
    ida = stack.customer("ida")
    assert ida.phone is not None
    spend_sms_budget(stack.env["AUTHSVC_DATABASE_URL"], ida.phone)
    page = browsing.page(locale="en-US")
    start_login(page, stack.api.origin, ida)

    expect(page.locator("#sent-to")).to_have_text(re.compile(r"^We sent a code by e-mail to i\*+@"))
    expect(page.locator("#sms-note")).to_have_text(
        re.compile(r"^This time your code did not come by SMS: .* limited number of text messages")
    )
    # SMS would only be refused again this hour: it is not offered.
    expect(page.locator("#switch-channel")).to_be_hidden()
    page.locator("#lang-switch").click()
    expect(page.locator("#sms-note")).to_have_text(
        re.compile(r"^Tym razem kod nie przyszedł SMS-em")
    )
    page.locator("#lang-switch").click()
    assert not any(sms["to"] == ida.phone for sms in stack.sms.received)
    page.locator("#code").fill(stack.mailbox.next_code(ida.email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as ida")


def spend_sms_budget(database_url: str, phone: str) -> None:
    """Use up the number's SMS budget in this hour and the next (the server reads the real
    clock, which may turn the hour meanwhile)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from authsvc.accounts.phones import textable
    from authsvc.context import ServiceContext
    from authsvc.core.clock import MovableClock
    from authsvc.sms_guard import service as sms_guard
    from tests.conftest import make_settings

    async def spend() -> None:
        clock = MovableClock()
        ctx = ServiceContext.build(make_settings(), database_url, clock=clock)
        number = textable(phone, ["PL"])
        try:
            for _ in range(2):
                while await sms_guard.reserve(ctx, number=number, ip="192.0.2.1") is None:
                    pass
                clock.advance(timedelta(hours=1))
        finally:
            await ctx.close()

    # Playwright's own event loop runs in this thread: the database work goes to another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, spend()).result()


def test_resend_is_offered_after_the_cooldown_and_only_the_new_code_works(
    stack: Stack, browsing: Browsing
) -> None:
    emil = stack.customer("emil")
    page = browsing.page(locale="en-US")
    start_login(page, stack.api.origin, emil)
    first = stack.mailbox.next_code(emil.email)

    resend = page.get_by_role("button", name="Send a new code")
    expect(resend).to_be_disabled()
    expect(page.locator("#resend-wait")).to_have_text(
        re.compile(r"^You can ask for a new code in 0:0[12]\.$")
    )
    expect(resend).to_be_enabled(timeout=5_000)
    resend.click()
    expect(page.get_by_role("status")).to_have_text(
        "We sent a new code. The previous one no longer works."
    )
    expect(resend).to_be_disabled()
    second = stack.mailbox.next_code(emil.email)

    page.locator("#code").fill(first if first != second else wrong(second))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong code. Attempts left: 4.")
    page.locator("#code").fill(second)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as emil")


def test_authorization_code_checked_in_the_support_console_shows_in_the_history(
    stack: Stack, browsing: Browsing, screenshots: Path
) -> None:
    fiona = stack.customer("fiona")
    context, _ = browsing.context(locale="en-US", permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    sign_in(page, stack, fiona)
    expect(page.locator("#code-state")).to_have_text("You have no active code.")
    expect(page.locator("#history-empty")).to_be_visible()

    page.get_by_label("Panel password").fill("not the password")
    page.get_by_role("button", name="Generate code").click()
    expect(page.locator("#alert")).to_have_text("Wrong password.")
    page.get_by_label("Panel password").fill(fiona.password)
    page.get_by_role("button", name="Generate code").click()
    shown = page.locator("#code-value")
    expect(shown).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    read_out = shown.inner_text()
    code = read_out.replace(" ", "")
    expect(page.locator("#code-expiry")).to_have_text(
        re.compile(r"^Valid for (59:\d\d|1:00:00) more \(until \d\d:\d\d\)\.$")
    )
    expect(page.locator(".warning")).to_contain_text(
        "Do not give this code to anyone you do not trust"
    )
    page.get_by_role("button", name="Copy code").click()
    expect(page.locator("#status")).to_have_text("The code was copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == code

    # The agent, in another browser context, in Polish.
    agent = browsing.page(locale="pl-PL")
    agent.goto(f"{stack.api.origin}/support/")
    agent.get_by_label("Klucz API wsparcia").fill(stack.support_key)
    agent.get_by_role("button", name="Użyj klucza").click()
    expect(agent.locator("#key-set")).to_contain_text("asv_")
    assert agent.evaluate("sessionStorage.getItem('authsvc.support-key')") == stack.support_key
    assert stack.support_key not in agent.evaluate("JSON.stringify(localStorage)")

    def check(code_read_out: str, purpose: str) -> None:
        agent.get_by_label("Klient (login lub ID konta)").fill("FIONA")
        agent.get_by_label("Kod podany przez klienta").fill(code_read_out)
        agent.get_by_label("Cel sprawdzenia (np. numer zgłoszenia)").fill(purpose)
        agent.get_by_role("button", name="Sprawdź kod").click()

    check(wrong(code), "zgłoszenie #4710")
    expect(agent.locator("#verdict-word")).to_have_text("KOD NIEWAŻNY")
    expect(agent.locator("#verdict-line1")).to_have_text("Kod się nie zgadza.")
    check(read_out, "zgłoszenie #4711")
    expect(agent.locator("#verdict-word")).to_have_text("KOD WAŻNY")
    expect(agent.locator("#verdict-line1")).to_have_text("Klient: fiona")
    expect(agent.locator("#verdict-line2")).to_have_text(re.compile(r"^Kod ważny do \d\d:\d\d\.$"))
    shoot(agent, screenshots, "support-valid")

    # After a reload the code is never shown again, only that one is active.
    page.reload()
    expect(page.locator("#code-state")).to_have_text(
        re.compile(r"^A code is active until \d\d:\d\d\. For your safety it is not shown again")
    )
    expect(page.locator("#code-shown")).to_be_hidden()
    assert code not in page.content()
    rows = page.locator("#history-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("helpdesk")
    expect(rows.nth(0)).to_contain_text("zgłoszenie #4711")
    expect(rows.nth(0)).to_contain_text("Code valid")
    expect(rows.nth(1)).to_contain_text("Wrong code")
    shoot(page, screenshots, "authorization-code-history")

    page.get_by_role("button", name="Revoke code").click()
    expect(page.locator("#status")).to_have_text(
        "The code was revoked. It no longer works with support."
    )
    check(read_out, "zgłoszenie #4712")
    expect(agent.locator("#verdict-word")).to_have_text("KOD NIEWAŻNY")
    expect(agent.locator("#verdict-line1")).to_have_text(
        "Klient nie ma aktywnego kodu (lub taki klient nie istnieje)."
    )

    # A wrong key is explained, and the console asks for the key again.
    agent.get_by_role("button", name="Zmień klucz").click()
    agent.get_by_label("Klucz API wsparcia").fill("asv_not-a-real-key")
    agent.get_by_role("button", name="Użyj klucza").click()
    check(read_out, "zgłoszenie #4713")
    expect(agent.get_by_role("alert")).to_have_text(
        "Klucz API jest nieprawidłowy lub unieważniony. Wpisz go ponownie."
    )
    expect(agent.get_by_label("Klucz API wsparcia")).to_be_visible()


def test_panel_on_another_origin_works_when_listed_and_is_refused_when_not(
    stack: Stack, browsing: Browsing
) -> None:
    greta = stack.customer("greta")
    page = browsing.page(locale="en-US")
    sign_in(page, stack, greta, base=stack.foreign.origin)
    assert page.url.startswith(stack.foreign.origin)
    # The session cookie belongs to the API; the page never sees it.
    assert "authsvc_session" not in page.evaluate("document.cookie")
    page.get_by_label("Panel password").fill(greta.password)
    page.get_by_role("button", name="Generate code").click()  # POST with cookie + Origin
    expect(page.locator("#code-value")).to_have_text(re.compile(r"^\d{3} \d{3}$"))

    sent_before = stack.mailbox.count(greta.email)
    context, watched = browsing.context(locale="en-US")
    # The browser reports the refusals; that is the expected outcome here.
    watched.allowed += [re.compile(r"blocked by CORS policy"), re.compile(r"net::ERR_FAILED")]
    stranger = context.new_page()
    stranger.goto(f"{stack.stranger.origin}/panel/")
    stranger.locator("#login").fill(greta.login)
    stranger.locator("#password").fill(greta.password)
    stranger.get_by_role("button", name="Log in").click()
    expect(stranger.get_by_role("alert")).to_have_text(
        re.compile(r"^Could not reach the sign-in service")
    )
    assert stack.mailbox.count(greta.email) == sent_before  # /login never ran


def test_throttled_login_counts_down_with_the_button_disabled(
    stack: Stack, browsing: Browsing
) -> None:
    henryk = stack.customer("henryk")
    # An address of its own (through the trusted proxy), so the other tests' logins from
    # 127.0.0.1 are not throttled with it.
    page = browsing.page(locale="en-US", extra_http_headers={"X-Forwarded-For": "198.51.100.77"})
    page.goto(f"{stack.api.origin}/panel/")
    log_in = page.get_by_role("button", name="Log in")
    page.locator("#login").fill(henryk.login)
    for _ in range(4):  # three free failures, and the fourth starts the back-off
        page.locator("#password").fill("wrong password")
        with page.expect_response(f"{stack.api.origin}/login") as answer:
            log_in.click()
        assert answer.value.status == 401
        expect(page.get_by_role("alert")).to_have_text("Wrong login or password.")
    page.locator("#password").fill(henryk.password)
    with page.expect_response(f"{stack.api.origin}/login") as answer:
        log_in.click()
    assert answer.value.status == 429
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^Too many failed sign-in attempts"))
    expect(page.locator("#login-wait")).to_have_text(
        re.compile(r"^You can try again in 0:0[1-3]\.$")
    )
    expect(log_in).to_be_disabled()
    expect(log_in).to_be_enabled(timeout=6_000)
    expect(page.locator("#login-wait")).to_be_hidden()
    log_in.click()
    expect(page.locator("#verify-view")).to_be_visible()


def test_no_phone_means_no_sms_and_too_many_wrong_codes_lead_back_to_sign_in(
    stack: Stack, browsing: Browsing
) -> None:
    dora = stack.customer("dora")  # e-mail only
    page = browsing.page(locale="en-US")
    start_login(page, stack.api.origin, dora)
    code = stack.mailbox.next_code(dora.email)
    to_sms = page.get_by_role("button", name="Send by SMS instead")
    to_sms.click()  # waits out the cooldown
    expect(page.get_by_role("alert")).to_have_text(
        "This account has no phone number, so the code can only come by e-mail."
    )
    expect(to_sms).to_be_hidden()

    for attempts_left in (4, 3, 2, 1):
        page.locator("#code").fill(wrong(code))
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("alert")).to_have_text(
            f"Wrong code. Attempts left: {attempts_left}."
        )
    page.locator("#code").fill(wrong(code))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Too many wrong codes. Sign in again to get a new code."
    )
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    expect(page.get_by_label("Login", exact=True)).to_have_value("dora")
