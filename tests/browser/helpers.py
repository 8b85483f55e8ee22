"""What the browser tests do again and again: screenshots, signing in, keyboard moves.

Imported only after a test module has checked `chromium_missing()`, so Playwright is there.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Customer, Stack

WIDTHS = (360, 1280)


def shoot(page: Page, folder: Path, name: str) -> None:
    """Screenshots at both widths; at 360 px nothing may stick out sideways."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px too wide at {width}px"
        page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def start_login(page: Page, base: str, customer: Customer, button: str = "Log in") -> None:
    page.goto(f"{base}/panel/")
    page.locator("#login").fill(customer.login)
    page.locator("#password").fill(customer.password)
    page.get_by_role("button", name=button).click()
    expect(page.locator("#verify-view")).to_be_visible()


def sign_in(page: Page, stack: Stack, customer: Customer, base: str | None = None) -> None:
    """The whole two-step login in English, for tests about what comes after it."""
    start_login(page, base or stack.api.origin, customer)
    page.locator("#code").fill(stack.mailbox.next_code(customer.email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#who")).to_have_text(f"Signed in as {customer.login}")


def tab_to(page: Page, target: Locator, presses: int = 20) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(presses):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")
