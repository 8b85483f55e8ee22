"""Fixtures for the browser tests: the service and its outside world, and Chromium.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright's synchronous API from
plain `def` tests; everything the browser talks to runs in other threads or processes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.servers import (
    Authsvc,
    Mailbox,
    SmsGateway,
    StaticSite,
    create_accounts,
    scratch_database,
)
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.fakes import SmtpSink, start_smtp
from tests.factories import PASSWORD
from tests.util import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

CHROMIUM = Path(os.environ.get("AUTHSVC_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
SMS_TOKEN = "sms-webhook-token-for-tests"
SUPPORT_KEY_NAME = "helpdesk"
# The client address the service believes for a context that sends X-Forwarded-For.
TRUSTED_PROXY = "127.0.0.1/32"


@dataclass(frozen=True)
class Customer:
    login: str
    email: str
    phone: str | None = None
    channel: str = "email"
    locale: str = "pl"
    password: str = PASSWORD


# One account per test, so no test sees another's codes, throttling or history.
CUSTOMERS = {
    name: Customer(login=name, email=f"{name}@example.com", **extra)
    for name, extra in {
        "anna": {"phone": "+48601000001"},
        "ben": {"locale": "en"},
        "cezary": {"phone": "+48601000003", "channel": "sms"},
        "dora": {"locale": "en"},
        "emil": {"phone": "+48601000005"},
        "fiona": {},
        "greta": {},
        "henryk": {},
        "ida": {"phone": "+48601000009", "channel": "sms", "locale": "en"},
        "jola": {"locale": "en"},  # changes her e-mail address: no other test may use her
    }.items()
}


@dataclass
class Stack:
    api: Authsvc
    mailbox: Mailbox
    sms: SmsGateway
    foreign: StaticSite  # another origin, listed in AUTHSVC_ALLOWED_ORIGINS
    stranger: StaticSite  # another origin, not listed
    support_key: str
    env: dict[str, str] = field(repr=False)

    def customer(self, name: str) -> Customer:
        return CUSTOMERS[name]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed; run `python3 dev.py check` to install the dev extra"
    if not CHROMIUM.exists():
        return (
            f"no Chromium at {CHROMIUM}; enable the browser tests with `apt-get install chromium`"
        )
    return None


@pytest.fixture(scope="module")
def stack(server_url: str) -> Iterator[Stack]:
    with running_stack(server_url) as running:
        yield running


@contextmanager
def running_stack(server_url: str, *, host: str = "127.0.0.1") -> Iterator[Stack]:
    """The service and its outside world; the pages are opened at `host` (its public URL).

    `localhost` for passkeys: a relying party id must be a domain, never an IP address.
    """
    sink = SmtpSink()
    smtp = start_smtp(sink)
    sms = SmsGateway(SMS_TOKEN)
    api_port = free_port()
    api_origin = f"http://{host}:{api_port}"
    foreign = StaticSite(api_origin, free_port())
    stranger = StaticSite(api_origin, free_port())
    data_dir = tempfile.mkdtemp(prefix="authsvc-browser-")
    try:
        with scratch_database(server_url) as database_url:
            create_accounts(
                database_url,
                [
                    {
                        "login": c.login,
                        "email": c.email,
                        "phone": c.phone,
                        "channel": c.channel,
                        "locale": c.locale,
                    }
                    for c in CUSTOMERS.values()
                ],
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSVC_")}
            env.update(
                AUTHSVC_DATABASE_URL=database_url,
                AUTHSVC_ENV="dev",
                AUTHSVC_DATA_DIR=data_dir,
                AUTHSVC_SECRET_KEY=TEST_SECRET_KEY,
                AUTHSVC_ALLOWED_ORIGINS=foreign.origin,
                AUTHSVC_TRUSTED_PROXIES=TRUSTED_PROXY,
                AUTHSVC_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
                AUTHSVC_EMAIL_PROVIDER="smtp",
                AUTHSVC_SMS_PROVIDER="webhook",
                AUTHSVC_SMS_WEBHOOK_URL=sms.url,
                AUTHSVC_SMS_WEBHOOK_TOKEN=SMS_TOKEN,
                # Short waits, never 30 s of sleeping: the rules are the same.
                AUTHSVC_LOGIN_OTP_RESEND_COOLDOWN="2",
                AUTHSVC_THROTTLE_BASE_DELAY="3",
                AUTHSVC_ARGON2_MEMORY_KIB="19456",
                AUTHSVC_ARGON2_TIME_COST="2",
                AUTHSVC_LOG_LEVEL="warning",
                AUTHSVC_PUBLIC_URL=api_origin,
            )
            from tests.cli import run_cli

            created = run_cli("support-keys", "create", "--name", SUPPORT_KEY_NAME, env=env)
            assert created.returncode == 0, created.stderr
            api = Authsvc(env, api_port, host=host)
            try:
                api.wait_ready()
                yield Stack(
                    api=api,
                    mailbox=Mailbox(sink),
                    sms=sms,
                    foreign=foreign,
                    stranger=stranger,
                    support_key=created.stdout.strip(),
                    env=env,
                )
            finally:
                api.stop()
    finally:
        foreign.stop()
        stranger.stop()
        sms.stop()
        smtp.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# Reports CSP violations as console errors, so the console check catches them too.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""

# Chromium logs every non-2xx answer to fetch as a console error; those are the API's
# designed answers (401 wrong code, 429 throttled, 404 for GET /session ...), not faults.
_API_ANSWER = re.compile(
    r"^Failed to load resource: the server responded with a status of (4\d\d|503)"
)


@dataclass
class Watched:
    """Console errors, uncaught exceptions and CSP violations seen in a context."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error" or _API_ANSWER.match(message.text):
            return
        if any(pattern.search(message.text) for pattern in self.allowed):
            return
        self.problems.append(f"console: {message.text} ({message.location.get('url')})")

    def on_page_error(self, error: Any) -> None:
        self.problems.append(f"uncaught: {error}")


class Browsing:
    """Opens watched browser contexts for a test and checks them when it ends."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[tuple[BrowserContext, Watched]] = []

    def context(self, *, locale: str = "pl-PL", **options: Any) -> tuple[BrowserContext, Watched]:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        options.setdefault("timezone_id", "Europe/Warsaw")
        context = self.browser.new_context(locale=locale, **options)
        context.set_default_timeout(10_000)
        watched = Watched()
        context.add_init_script(_CSP_LISTENER)
        context.on("console", watched.on_console)
        context.on("weberror", lambda error: watched.on_page_error(error.error))
        self.contexts.append((context, watched))
        return context, watched

    def page(self, *, locale: str = "pl-PL", **options: Any) -> Page:
        context, _ = self.context(locale=locale, **options)
        return context.new_page()

    def close(self) -> list[str]:
        problems = []
        for context, watched in self.contexts:
            context.close()
            problems.extend(watched.problems)
        return problems


@pytest.fixture
def browsing(browser: Browser) -> Iterator[Browsing]:
    session = Browsing(browser)
    yield session
    problems = session.close()
    assert not problems, "the pages logged errors:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
