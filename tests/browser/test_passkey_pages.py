"""Passkeys in real Chromium with the DevTools virtual authenticator (CDP WebAuthn domain).

The pages are opened at http://localhost:PORT, the service's public URL: the relying party
id is its host, and a relying party id must be a domain (never an IP address); localhost
is also a secure context, which WebAuthn requires.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Browsing, Customer, Stack, chromium_missing, running_stack

if (missing := chromium_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

from playwright.sync_api import BrowserContext, CDPSession, Page, Route, expect

from tests.browser.helpers import shoot, sign_in

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture(scope="module")
def stack(server_url: str) -> Iterator[Stack]:
    """This module's own service, whose public URL (and so relying party id) is localhost."""
    with running_stack(server_url, host="localhost") as running:
        yield running


class Authenticator:
    """A virtual platform authenticator attached to one page, through its CDP session."""

    def __init__(self, context: BrowserContext, page: Page, **options: Any) -> None:
        self.cdp: CDPSession = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        added = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {"options": {**VIRTUAL_AUTHENTICATOR, **options}},
        )
        self.id = added["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return list(answer["credentials"])

    def set_presence(self, automatic: bool) -> None:
        """Whether the authenticator is touched at once for every request."""
        self.cdp.send(
            "WebAuthn.setAutomaticPresenceSimulation",
            {"authenticatorId": self.id, "enabled": automatic},
        )

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified}
        )


# The virtual authenticator answers a conditional (autofill) request at once, picking its
# first credential, as a customer choosing it from the login field's list would. Tests
# of the button and of refusals turn the autofill off, as in a browser without it.
_NO_AUTOFILL = """
if (window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = async () => false;
}
"""


# Notes how each navigator.credentials.get() was asked (kept across this tab's pages).
_RECORD_MEDIATION = """
if (navigator.credentials) {
  const get = navigator.credentials.get.bind(navigator.credentials);
  const note = (what) => {
    const seen = JSON.parse(sessionStorage.getItem("mediations") || "[]");
    seen.push(what);
    sessionStorage.setItem("mediations", JSON.stringify(seen));
  };
  navigator.credentials.get = (options) => {
    note(options.mediation || "modal");
    if (options.signal) options.signal.addEventListener("abort", () => note("aborted"));
    return get(options).then(
      (credential) => credential,
      (error) => {
        note(`refused: ${error.name}`);
        throw error;
      },
    );
  };
}
"""


def browser_context(browsing: Browsing, *, autofill: bool = False) -> BrowserContext:
    context, _ = browsing.context(locale="en-US")
    if not autofill:
        context.add_init_script(_NO_AUTOFILL)
    return context


def reauthenticate(page: Page, password: str) -> None:
    dialog = page.get_by_role("dialog", name="Confirm with your password")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Panel password").fill(password)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_hidden()


def open_two_step_page(page: Page) -> None:
    page.get_by_role("link", name="Two-step login").click()
    expect(page.get_by_role("heading", name="Two-step login", level=1)).to_be_visible()
    expect(page.locator("#passkeys-state")).not_to_be_empty()


def add_passkey(page: Page, customer: Customer, name: str, *, reauth: bool = True) -> None:
    """Add a passkey on the open Two-step login page; the first one brings recovery codes."""
    page.get_by_role("button", name="Add a passkey").click()
    field = page.get_by_role("textbox", name="Passkey name")
    expect(field).to_be_focused()
    field.fill(name)
    page.get_by_role("button", name="Create the passkey").click()
    if reauth:
        reauthenticate(page, customer.password)
    expect(page.locator("#passkeys-status")).to_have_text(
        f"The passkey “{name}” was added. We told you by e-mail."
    )


def passkey_item(page: Page, name: str) -> Any:
    return page.locator("#passkeys-list li").filter(
        has=page.get_by_role("heading", name=re.compile(f"^{re.escape(name)} "))
    )


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")


def password_login(page: Page, customer: Customer) -> None:
    page.get_by_label("Login", exact=True).fill(customer.login)
    page.get_by_label("Password", exact=True).fill(customer.password)
    page.get_by_role("button", name="Log in").click()


def signed_in(page: Page) -> bool:
    """Whether the browser holds a session (the API's answer, with the page's cookies)."""
    return page.request.get(f"{page.url.split('/panel/')[0]}/session").status == 200


def with_a_passkey(
    stack: Stack,
    browsing: Browsing,
    login: str,
    name: str,
    *,
    sign: Callable[[Page, Stack, Customer], None] = sign_in,
) -> tuple[Customer, Page, Authenticator]:
    """A customer signed in through `sign`, with one passkey added on the page (and the
    recovery codes it brought put away), in a browser with a virtual authenticator."""
    customer = stack.customer(login)
    context = browser_context(browsing)
    page = context.new_page()
    authenticator = Authenticator(context, page)
    sign(page, stack, customer)
    open_two_step_page(page)
    add_passkey(page, customer, name)
    page.get_by_role("button", name="I have saved the codes").click()
    return customer, page, authenticator


def test_register_on_the_page_then_sign_in_with_no_password_and_the_email_names_it(
    stack: Stack, browsing: Browsing, screenshots: Path
) -> None:
    ben = stack.customer("ben")
    context = browser_context(browsing)
    page = context.new_page()
    authenticator = Authenticator(context, page)
    sign_in(page, stack, ben)
    open_two_step_page(page)
    expect(page.locator("#passkeys-state")).to_have_text("You have no passkeys.")

    add_passkey(page, ben, "Laptop")
    item = passkey_item(page, "Laptop")
    expect(item).to_have_count(1)
    expect(item.locator(".badge")).to_have_text(re.compile(r"^(synced|this device only)$"))
    expect(item.locator(".passkey-created")).to_have_text(re.compile(r"^Added \d"))
    expect(item.locator(".passkey-used")).to_have_text("Not used yet.")
    expect(page.locator("#passkeys-state")).to_have_text("Passkeys: 1.")
    # The first strong factor brings recovery codes, shown once as after the app.
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_focused()
    expect(page.locator("#codes-list li")).to_have_count(10)
    page.get_by_role("button", name="I have saved the codes").click()
    expect(page.locator("#preferred-passkey")).to_be_checked()
    shoot(page, screenshots, "passkeys")
    # The credential lives in the authenticator, discoverable, for this relying party.
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    assert credential["signCount"] == 1
    log_out(page)

    # No login, no password: the passkey alone signs in, and the e-mail names it.
    login_field = page.locator("#login")
    expect(login_field).to_have_value("")
    shoot(page, screenshots, "login-passkey")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#who")).to_have_text("Signed in as ben")
    assert authenticator.credentials()[0]["signCount"] == 2
    stack.mailbox.last_match(
        ben.email, re.compile(r'^Second step: the passkey "Laptop"\r?$', re.MULTILINE)
    )
    open_two_step_page(page)
    expect(passkey_item(page, "Laptop").locator(".passkey-used")).to_have_text(
        re.compile(r"^Last used \d")
    )

    # A session without a password: a change is confirmed with the passkey instead.
    passkey_item(page, "Laptop").get_by_role("button", name="Rename").click()
    rename = page.get_by_role("dialog", name="Rename the passkey")
    rename.get_by_label("Passkey name").fill("Work laptop")
    rename.get_by_role("button", name="Save the name").click()
    dialog = page.get_by_role("dialog", name="Confirm with your password")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Confirm with a passkey").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#passkeys-status")).to_have_text("Renamed to “Work laptop”.")
    expect(passkey_item(page, "Work laptop")).to_have_count(1)
    assert authenticator.credentials()[0]["signCount"] == 3


def test_the_passkey_as_the_second_step_after_the_password(
    stack: Stack, browsing: Browsing
) -> None:
    dora, page, _ = with_a_passkey(stack, browsing, "dora", "Phone")
    # Adding the first passkey made it the step asked first.
    expect(page.get_by_label("A passkey", exact=True)).to_be_checked()
    log_out(page)

    codes_before = stack.mailbox.count(dora.email)
    password_login(page, dora)
    expect(page.get_by_role("heading", name="Use your passkey")).to_be_visible()
    use = page.get_by_role("button", name="Use your passkey")
    expect(use).to_be_focused()
    # The other steps the challenge accepts are offered; no code was sent.
    expect(page.get_by_role("button", name="Use a recovery code")).to_be_visible()
    expect(page.locator("#passkey-expiry")).to_have_text(re.compile(r"^This sign-in expires in \d"))
    # Over to a recovery code and back: the passkey is offered from the other steps too.
    page.get_by_role("button", name="Use a recovery code").click()
    expect(page.get_by_label("Recovery code", exact=True)).to_be_focused()
    page.get_by_role("button", name="Use a passkey").click()
    expect(use).to_be_focused()
    use.click()
    expect(page.locator("#who")).to_have_text("Signed in as dora")
    assert stack.mailbox.count(dora.email) == codes_before
    # The confirmation says which step finished it (the passkey alone names the passkey).
    stack.mailbox.last_match(dora.email, re.compile(r"^Second step: a passkey\r?$", re.MULTILINE))


def test_a_renamed_then_deleted_passkey_no_longer_signs_in(
    stack: Stack, browsing: Browsing
) -> None:
    _, page, authenticator = with_a_passkey(stack, browsing, "jola", "Tablet")

    # Rename: within the re-authentication window, no password asked again.
    passkey_item(page, "Tablet").get_by_role("button", name="Rename").click()
    dialog = page.get_by_role("dialog", name="Rename the passkey")
    dialog.get_by_label("Passkey name").fill("Old tablet")
    dialog.get_by_role("button", name="Save the name").click()
    expect(page.locator("#passkeys-status")).to_have_text("Renamed to “Old tablet”.")
    expect(passkey_item(page, "Old tablet")).to_have_count(1)

    # Delete, after saying yes to the question.
    passkey_item(page, "Old tablet").get_by_role("button", name="Remove").click()
    confirm = page.get_by_role("dialog", name="Remove the passkey?")
    expect(confirm).to_contain_text("The passkey “Old tablet” will no longer sign you in.")
    confirm.get_by_role("button", name="Cancel").click()
    expect(passkey_item(page, "Old tablet")).to_have_count(1)
    passkey_item(page, "Old tablet").get_by_role("button", name="Remove").click()
    confirm.get_by_role("button", name="Remove the passkey").click()
    expect(page.locator("#passkeys-status")).to_have_text("The passkey “Old tablet” was removed.")
    expect(page.locator("#passkeys-list li")).to_have_count(0)
    expect(page.locator("#passkeys-state")).to_have_text("You have no passkeys.")
    log_out(page)

    # The authenticator still holds it; the service refuses it, and nobody is signed in.
    assert len(authenticator.credentials()) == 1
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^That passkey was not accepted: it belongs to no account")
    )
    expect(page.locator("#login-view")).to_be_visible()
    assert not signed_in(page)


def test_without_user_verification_a_passkey_does_not_sign_in_alone(
    stack: Stack, browsing: Browsing
) -> None:
    _, page, authenticator = with_a_passkey(stack, browsing, "ida", "Key", sign=sign_in_by_sms)
    log_out(page)

    # The same authenticator, now without the fingerprint or PIN check: the options demand
    # user verification, so the browser itself gives no assertion.
    authenticator.set_user_verified(False)
    with page.expect_response(re.compile(r"/login/passkey/options$")) as answer:
        page.get_by_role("button", name="Sign in with a passkey").click()
    assert answer.value.json()["options"]["userVerification"] == "required"
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^No passkey was used"))
    expect(page.locator("#login-view")).to_be_visible()
    assert not signed_in(page)

    # A page that asks for less (options rewritten on the way) gets an assertion without
    # user verification out of the browser: the service refuses it all the same.
    def discouraged(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["options"]["userVerification"] = "discouraged"
        route.fulfill(response=response, json=body)

    page.route(re.compile(r"/login/passkey/options$"), discouraged)
    with page.expect_response(re.compile(r"/login/passkey$")) as refused:
        page.get_by_role("button", name="Sign in with a passkey").click()
    assert refused.value.status == 401
    assert refused.value.json()["code"] == "invalid_passkey"
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^That passkey was not accepted: .* not confirmed with your fingerprint")
    )
    assert not signed_in(page)


def sign_in_by_sms(page: Page, stack: Stack, customer: Customer) -> None:
    page.goto(f"{stack.api.origin}/panel/")
    password_login(page, customer)
    page.get_by_label("One-time code (6 digits)").fill(stack.sms.next_code(customer.phone or ""))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text(f"Signed in as {customer.login}")


def test_a_passkey_picked_from_the_login_fields_autofill_signs_in(
    stack: Stack, browsing: Browsing
) -> None:
    """Conditional mediation: the page starts it on load; the virtual authenticator picks
    its passkey as a customer would from the autofill list, and nothing is clicked. The
    button aborts the autofill's pending request before its own."""
    emil = stack.customer("emil")
    context = browser_context(browsing, autofill=True)
    context.add_init_script(_RECORD_MEDIATION)
    page = context.new_page()
    authenticator = Authenticator(context, page)
    page.goto(f"{stack.api.origin}/panel/")
    expect(page.locator("#login")).to_have_attribute("autocomplete", "username webauthn")
    # No passkey yet: the autofill's request ends at once here (the virtual authenticator
    # has nothing to offer) and the password signs in as always.
    password_login(page, emil)
    page.get_by_label("One-time code (6 digits)").fill(stack.mailbox.next_code(emil.email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text("Signed in as emil")
    assert page.evaluate("JSON.parse(sessionStorage.getItem('mediations'))") == [
        "conditional",
        "refused: NotAllowedError",
    ]
    open_two_step_page(page)
    add_passkey(page, emil, "Laptop")
    page.get_by_role("button", name="I have saved the codes").click()

    page.evaluate("sessionStorage.removeItem('mediations')")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/panel/\?reason=logout$"))
    expect(page).to_have_url(re.compile(r"/panel/code\.html$"))
    expect(page.locator("#who")).to_have_text("Signed in as emil")
    # One request on the login page, and it was the autofill's, not a modal one.
    assert page.evaluate("JSON.parse(sessionStorage.getItem('mediations'))") == ["conditional"]
    stack.mailbox.last_match(
        emil.email, re.compile(r"^Drugi krok:\s+klucz dostępu „Laptop”\r?$", re.MULTILINE)
    )

    # Without the automatic touch the autofill's request stays pending, as it does while a
    # customer has not picked anything; the button aborts it and asks on its own.
    authenticator.set_presence(False)
    page.evaluate("sessionStorage.removeItem('mediations')")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#status")).to_have_text("You have been logged out.")
    page.wait_for_function("() => sessionStorage.getItem('mediations') !== null")
    # Touched at once from now on: only a request made after this is answered.
    authenticator.set_presence(True)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#who")).to_have_text("Signed in as emil")
    assert page.evaluate("JSON.parse(sessionStorage.getItem('mediations'))") == [
        "conditional",
        "aborted",
        "refused: AbortError",
        "modal",
    ]


def test_polish_texts_of_the_passkey_button(stack: Stack, browsing: Browsing) -> None:
    page = browsing.page(locale="pl-PL")
    page.goto(f"{stack.api.origin}/panel/")
    expect(page.get_by_role("button", name="Zaloguj się kluczem dostępu")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
