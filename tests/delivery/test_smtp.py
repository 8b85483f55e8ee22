"""E-mail through a real SMTP server (aiosmtpd): headers, body, TLS modes, refusals."""

from __future__ import annotations

import socket
import ssl
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.delivery.adapters.smtp import SmtpTarget
from authsvc.delivery.outbox import MessageStatus
from authsvc.delivery.worker import DeliveryWorker
from tests.conftest import with_settings
from tests.delivery.fakes import (
    Certificates,
    SmtpSink,
    password_checker,
    start_smtp,
)
from tests.delivery.helpers import (
    CONFIRMATION_PARAMS,
    OTP,
    queue,
    run_worker_until,
    status_of,
)
from tests.util import free_port

MAIL_FROM = "Client Panel <no-reply@panel.example.com>"


def smtp_ctx(ctx: ServiceContext, url: str) -> ServiceContext:
    return with_settings(ctx, email_provider="smtp", smtp_url=SecretStr(url), mail_from=MAIL_FROM)


async def deliver(ctx: ServiceContext) -> int:
    async with DeliveryWorker(ctx, listen=False) as worker:
        return await worker.run_once()


@pytest.mark.parametrize(
    ("locale", "subject", "phrase"),
    [
        ("en", "Your Client Panel sign-in code", "valid for 10 minutes"),
        ("pl", "Twój kod logowania do Panelu Klienta", "ważny przez 10 min"),
    ],
)
async def test_otp_email_arrives_with_headers_text_and_html(
    fast_ctx: ServiceContext,
    smtp_sink: tuple[SmtpSink, int],
    locale: str,
    subject: str,
    phrase: str,
) -> None:
    sink, port = smtp_sink
    ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{port}")
    message_id = await queue(ctx, recipient="anna@example.com", locale=locale)
    assert await deliver(ctx) == 1

    assert (await status_of(ctx, message_id)).state == "sent"
    [received] = sink.messages
    assert received.mail_from == "no-reply@panel.example.com"
    assert received.rcpt_tos == ["anna@example.com"]
    mail = received.message
    assert mail["From"] == MAIL_FROM
    assert mail["To"] == "anna@example.com"
    assert mail["Subject"] == subject
    assert mail["Message-ID"] == f"<{message_id}@panel.example.com>"
    assert mail["Content-Language"] == locale
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert OTP in text.get_content()
    assert phrase in text.get_content()
    assert OTP in html.get_content()
    assert f'lang="{locale}"' in html.get_content()


@pytest.mark.parametrize("recipient", ["anna@przykład.pl", "zażółć@example.com"])
async def test_an_address_outside_ascii_gets_the_same_message_over_smtputf8(
    fast_ctx: ServiceContext, recipient: str
) -> None:
    # Such an address takes the other message builder (EmailMessage, for SMTPUTF8).
    sink = SmtpSink()
    controller = start_smtp(sink, enable_SMTPUTF8=True)
    try:
        ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{controller.port}")
        message_id = await queue(ctx, recipient=recipient, locale="pl")
        assert await deliver(ctx) == 1
    finally:
        controller.stop()
    [received] = sink.messages
    assert received.rcpt_tos == [recipient]
    mail = received.message
    assert mail["To"] == recipient
    assert mail["Message-ID"] == f"<{message_id}@panel.example.com>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "pl"
    text = mail.get_body(("plain",))
    assert text is not None and OTP in text.get_content()


async def test_a_retry_carries_the_same_message_id_so_the_receiver_can_drop_the_repeat(
    live_ctx: ServiceContext, smtp_sink: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp_sink
    # The server keeps the first copy but the sender sees a failure (say, the 250 lost on
    # the way back, or a crash before the outcome was recorded): it sends again.
    sink.fail_after_data.append("451 4.3.0 Temporary failure, try again")
    ctx = smtp_ctx(live_ctx, f"smtp://127.0.0.1:{port}")
    message_id = await queue(ctx)
    await run_worker_until(ctx, lambda: is_sent(ctx, message_id))
    assert (await status_of(ctx, message_id)).attempts == 2
    ids = [received.message["Message-ID"] for received in sink.messages]
    assert ids == [f"<{message_id}@panel.example.com>"] * 2


async def is_sent(ctx: ServiceContext, message_id: uuid.UUID) -> bool:
    return (await status_of(ctx, message_id)).state == "sent"


async def test_notification_html_escapes_what_the_client_sent(
    fast_ctx: ServiceContext, smtp_sink: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp_sink
    ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{port}")
    params = {**CONFIRMATION_PARAMS, "user_agent": "<img src=x onerror=alert(1)>"}
    await queue(ctx, template="login_confirmation", params=params, locale="pl")
    await deliver(ctx)
    [received] = sink.messages
    html = received.message.get_body(("html",))
    assert html is not None
    assert "<img" not in html.get_content()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html.get_content()
    assert received.message["Subject"] == "Nowe logowanie do Panelu Klienta"


async def test_refused_recipient_is_abandoned_at_once(
    fast_ctx: ServiceContext, smtp_sink: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp_sink
    sink.refuse["gone@example.com"] = "550 5.1.1 No such user here"
    ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{port}")
    message_id = await queue(ctx, recipient="gone@example.com")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "abandoned"
    assert found.attempts == 1
    assert found.last_error is not None
    assert found.last_error.startswith("smtp_550")
    assert "No such user" in found.last_error


async def test_temporary_refusal_is_retried_later(
    fast_ctx: ServiceContext, smtp_sink: tuple[SmtpSink, int], clock: MovableClock
) -> None:
    sink, port = smtp_sink
    sink.refuse["busy@example.com"] = "451 4.3.0 Try again later"
    ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{port}")
    message_id = await queue(ctx, recipient="busy@example.com")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert (found.state, found.attempts) == ("queued", 1)
    assert found.last_error is not None
    assert found.last_error.startswith("smtp_451")

    del sink.refuse["busy@example.com"]
    clock.advance(timedelta(seconds=1))
    await deliver(ctx)
    assert await status_of(ctx, message_id) == MessageStatus("sent", 2, None)
    assert len(sink.messages) == 1


async def test_one_connection_carries_consecutive_messages(
    fast_ctx: ServiceContext, smtp_sink: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp_sink
    ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{port}")
    async with DeliveryWorker(ctx, listen=False) as worker:
        for _ in range(3):
            await queue(ctx)
            assert await worker.run_once() == 1
    assert len(sink.messages) == 3
    assert len({received.peer for received in sink.messages}) == 1


async def test_a_connection_the_server_dropped_is_replaced_without_a_failed_attempt(
    fast_ctx: ServiceContext,
) -> None:
    sink = SmtpSink()
    controller = start_smtp(sink)
    ctx = smtp_ctx(fast_ctx, f"smtp://127.0.0.1:{controller.port}")
    try:
        async with DeliveryWorker(ctx, listen=False) as worker:
            await queue(ctx)
            await worker.run_once()
            controller.stop()  # drops the connection the adapter keeps
            controller = Controller(sink, hostname="127.0.0.1", port=controller.port)
            controller.start()
            second = await queue(ctx)
            await worker.run_once()
    finally:
        controller.stop()
    assert await status_of(ctx, second) == MessageStatus("sent", 1, None)
    assert len({received.peer for received in sink.messages}) == 2


async def test_unreachable_server_is_a_transient_failure(fast_ctx: ServiceContext) -> None:
    ctx = smtp_ctx(fast_ctx, "smtp://127.0.0.1:1")
    message_id = await queue(ctx)
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "queued"
    assert found.last_error is not None
    assert found.last_error.startswith("smtp_connection")


@pytest.fixture
def starttls_server(certificates: Certificates) -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates.cert, certificates.key)
    controller = start_smtp(
        sink,
        tls_context=context,
        require_starttls=True,
        authenticator=password_checker("mailer", "s3cret pass", sink),
        auth_required=True,
    )
    yield sink, controller.port
    controller.stop()


@pytest.fixture
def implicit_tls_server(certificates: Certificates) -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates.cert, certificates.key)
    client_context = ssl.create_default_context(cafile=certificates.ca)
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=context,
        server_hostname="127.0.0.1",
        authenticator=password_checker("mailer", "s3cret pass", sink),
        auth_required=True,
        auth_require_tls=False,  # the whole connection is TLS already
    )
    controller._trigger_server = lambda: _trigger(controller, client_context)  # type: ignore[method-assign]
    controller.start()
    yield sink, controller.port
    controller.stop()


def _trigger(controller: Controller, context: ssl.SSLContext) -> None:
    """aiosmtpd's readiness probe, with a client context that trusts our test CA."""
    with (
        socket.create_connection((controller.hostname, controller.port), 1.0) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.recv(1024)


async def test_starttls_with_login_delivers(
    fast_ctx: ServiceContext, starttls_server: tuple[SmtpSink, int], certificates: Certificates
) -> None:
    sink, port = starttls_server
    url = f"smtp://mailer:s3cret%20pass@127.0.0.1:{port}?starttls=true&cafile={certificates.ca}"
    ctx = smtp_ctx(fast_ctx, url)
    message_id = await queue(ctx)
    await deliver(ctx)
    assert (await status_of(ctx, message_id)).state == "sent"
    assert sink.logins == ["mailer"]
    assert len(sink.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls_with_login_delivers(
    fast_ctx: ServiceContext,
    implicit_tls_server: tuple[SmtpSink, int],
    certificates: Certificates,
) -> None:
    sink, port = implicit_tls_server
    ctx = smtp_ctx(
        fast_ctx, f"smtps://mailer:s3cret%20pass@127.0.0.1:{port}?cafile={certificates.ca}"
    )
    message_id = await queue(ctx)
    await deliver(ctx)
    assert (await status_of(ctx, message_id)).state == "sent"
    assert sink.logins == ["mailer"]


async def test_untrusted_certificate_is_not_accepted(
    fast_ctx: ServiceContext, starttls_server: tuple[SmtpSink, int]
) -> None:
    sink, port = starttls_server
    ctx = smtp_ctx(fast_ctx, f"smtp://mailer:s3cret%20pass@127.0.0.1:{port}?starttls=true")
    message_id = await queue(ctx)
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "queued"
    assert sink.messages == []


async def test_wrong_password_is_retried_not_abandoned(
    fast_ctx: ServiceContext, starttls_server: tuple[SmtpSink, int], certificates: Certificates
) -> None:
    _, port = starttls_server
    url = f"smtp://mailer:wrong@127.0.0.1:{port}?starttls=true&cafile={certificates.ca}"
    ctx = smtp_ctx(fast_ctx, url)
    message_id = await queue(ctx)
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "queued", "an operator can fix the password before it expires"
    assert found.last_error is not None
    assert found.last_error.startswith("smtp_535")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay:25", SmtpTarget("relay", 25, use_tls=False, start_tls=False)),
        ("smtp://relay", SmtpTarget("relay", 25, use_tls=False, start_tls=False)),
        (
            "smtp://u%40x:p%3Aw@mail.example.com:587?starttls=true",
            SmtpTarget("mail.example.com", 587, False, True, "u@x", "p:w"),
        ),
        ("smtp://mail.example.com?starttls=true", SmtpTarget("mail.example.com", 587, False, True)),
        (
            "smtps://u:p@mail.example.com",
            SmtpTarget("mail.example.com", 465, True, False, "u", "p"),
        ),
        (
            "smtps://mail.example.com:2465?timeout=5&cafile=/ca.pem",
            SmtpTarget("mail.example.com", 2465, True, False, cafile="/ca.pem", timeout=5.0),
        ),
    ],
)
def test_smtp_url_forms(url: str, expected: SmtpTarget) -> None:
    assert SmtpTarget.from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://h?start_tls=true",
        "smtp://h?starttls=maybe",
        "smtps://h?starttls=true",
        "smtp://h:notaport",
    ],
)
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by mistake
        SmtpTarget.from_url(url)
