"""SMS over HTTP against a real local server playing each provider's wire format."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.delivery.outbox import MessageStatus
from authsvc.delivery.worker import DeliveryWorker
from tests.conftest import with_settings
from tests.delivery.fakes import (
    FakeGateway,
    Reply,
    Request,
    smsapi_behaviour,
    twilio_behaviour,
    webhook_behaviour,
)
from tests.delivery.helpers import OTP, queue, run_worker_until, status_of

TOKEN = "gateway-token-123"
SID, TWILIO_TOKEN = "AC" + "0" * 32, "twilio-auth-token"


def webhook_ctx(ctx: ServiceContext, gateway: FakeGateway, **extra: object) -> ServiceContext:
    gateway.behaviour = webhook_behaviour(TOKEN)
    return with_settings(
        ctx,
        sms_provider="webhook",
        sms_webhook_url=f"{gateway.url}/sms",
        sms_webhook_token=SecretStr(TOKEN),
        **extra,
    )


def smsapi_ctx(ctx: ServiceContext, gateway: FakeGateway) -> ServiceContext:
    gateway.behaviour = smsapi_behaviour(TOKEN)
    return with_settings(
        ctx,
        sms_provider="smsapi",
        smsapi_url=f"{gateway.url}/sms.do",
        smsapi_token=SecretStr(TOKEN),
        smsapi_sender="Panel",
    )


def twilio_ctx(
    ctx: ServiceContext, gateway: FakeGateway, sender: str = "+48221234567"
) -> ServiceContext:
    gateway.behaviour = twilio_behaviour(SID, TWILIO_TOKEN)
    return with_settings(
        ctx,
        sms_provider="twilio",
        twilio_base_url=gateway.url,
        twilio_account_sid=SID,
        twilio_auth_token=SecretStr(TWILIO_TOKEN),
        twilio_from=sender,
    )


async def is_finished(ctx: ServiceContext, message_id: uuid.UUID) -> bool:
    return (await status_of(ctx, message_id)).state != "queued"


async def deliver(ctx: ServiceContext) -> int:
    async with DeliveryWorker(ctx, listen=False) as worker:
        return await worker.run_once()


# --- wire formats --------------------------------------------------------------------


async def test_webhook_posts_json_with_bearer_token(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms", recipient="+48601234567", locale="pl")
    await deliver(ctx)

    assert await status_of(ctx, message_id) == MessageStatus("sent", 1, None)
    [request] = gateway.requests
    assert (request.method, request.path) == ("POST", "/sms")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["to"] == "+48601234567"
    assert body["message_id"] == str(message_id)
    assert request.headers["idempotency-key"] == str(message_id)
    assert body["text"].startswith(f"Kod logowania do Panelu Klienta: {OTP}.")


async def test_webhook_with_a_wrong_token_is_abandoned(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    ctx = with_settings(ctx, sms_webhook_token=SecretStr("wrong"))
    message_id = await queue(ctx, channel="sms")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "abandoned"
    assert found.last_error == "http_401: unauthorized"


async def test_smsapi_posts_its_form_with_bearer_token(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = smsapi_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms", recipient="+48601234567")
    await deliver(ctx)

    assert (await status_of(ctx, message_id)).state == "sent"
    [request] = gateway.requests
    assert (request.method, request.path) == ("POST", "/sms.do")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    form = request.form()
    assert form["to"] == "48601234567"
    assert form["from"] == "Panel"
    assert form["format"] == "json"
    assert form["encoding"] == "utf-8"
    assert (form["idx"], form["check_idx"]) == (str(message_id), "1")
    assert OTP in form["message"]


async def test_smsapi_retry_after_a_lost_answer_is_refused_as_a_repeat_and_counts_as_sent(
    live_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = smsapi_ctx(live_ctx, gateway)
    sent_idx: set[str] = set()
    smsapi = smsapi_behaviour(TOKEN, sent_idx)

    def answer_lost_once(request: Request) -> Reply:
        status, payload = smsapi(request)  # SMSAPI texts the customer...
        if len(gateway.requests) == 1:
            return 502, {"error": "bad gateway"}  # ...but its answer never reaches us
        return status, payload

    gateway.behaviour = answer_lost_once
    message_id = await queue(ctx, channel="sms")
    await run_worker_until(ctx, lambda: is_finished(ctx, message_id))
    # The retry carried the same idx; SMSAPI refused it as a repeat: one SMS, recorded sent.
    assert [request.form()["idx"] for request in gateway.requests] == [str(message_id)] * 2
    assert sent_idx == {str(message_id)}
    assert await status_of(ctx, message_id) == MessageStatus("sent", 2, None)


async def test_smsapi_error_inside_a_200_answer_is_a_failure(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = smsapi_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms", recipient="+48000")
    gateway.always(200, {"error": 13, "message": "No correct phone numbers"})
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "abandoned"
    assert found.last_error == "smsapi_13: No correct phone numbers"


async def test_smsapi_internal_error_inside_a_200_answer_is_retried(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = smsapi_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms")
    gateway.always(200, {"error": 201, "message": "System internal error"})
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert (found.state, found.last_error) == ("queued", "smsapi_201: System internal error")


async def test_twilio_posts_its_form_with_basic_auth(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = twilio_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms", recipient="+48601234567")
    await deliver(ctx)

    assert (await status_of(ctx, message_id)).state == "sent"
    [request] = gateway.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.basic_auth() == (SID, TWILIO_TOKEN)
    form = request.form()
    assert (form["To"], form["From"]) == ("+48601234567", "+48221234567")
    assert OTP in form["Body"]


async def test_twilio_messaging_service_sid_is_sent_as_such(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = twilio_ctx(fast_ctx, gateway, sender="MG" + "1" * 32)
    await queue(ctx, channel="sms")
    await deliver(ctx)
    form = gateway.requests[0].form()
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


async def test_twilio_error_keeps_the_vendor_code_and_message(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = twilio_ctx(fast_ctx, gateway)
    message_id = await queue(ctx, channel="sms", recipient="0048601234567")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "abandoned"
    assert found.last_error == "http_400: 21211 The 'To' number is not a valid phone number."


# --- failures on demand --------------------------------------------------------------


async def test_two_server_errors_then_success_delivers_exactly_once(
    live_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(live_ctx, gateway)
    gateway.fail_next(500, 500)
    message_id = await queue(ctx, channel="sms")
    await run_worker_until(ctx, lambda: is_finished(ctx, message_id))
    assert await status_of(ctx, message_id) == MessageStatus("sent", 3, None)
    assert len(gateway.requests) == 3
    assert [r.json()["message_id"] for r in gateway.requests] == [str(message_id)] * 3
    # The same key on every attempt: the gateway can drop a repeat.
    assert [r.headers["idempotency-key"] for r in gateway.requests] == [str(message_id)] * 3


async def test_gateway_down_for_the_whole_budget_abandons_with_the_error(
    fast_ctx: ServiceContext, gateway: FakeGateway, clock: MovableClock
) -> None:
    ctx = with_settings(webhook_ctx(fast_ctx, gateway), delivery_max_attempts=4)
    gateway.always(503, {"error": "maintenance window"})
    message_id = await queue(ctx, channel="sms")
    async with DeliveryWorker(ctx, listen=False) as worker:
        for _ in range(4):
            assert await worker.run_once() == 1
            clock.advance(timedelta(seconds=1))
        assert await worker.run_once() == 0
    assert await status_of(ctx, message_id) == MessageStatus(
        "abandoned", 4, "http_503: maintenance window"
    )
    assert len(gateway.requests) == 4


async def test_client_error_is_abandoned_after_one_request(
    fast_ctx: ServiceContext, gateway: FakeGateway, clock: MovableClock
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    gateway.always(400, {"error": "invalid number"})
    message_id = await queue(ctx, channel="sms")
    async with DeliveryWorker(ctx, listen=False) as worker:
        await worker.run_once()
        clock.advance(timedelta(hours=1))
        assert await worker.run_once() == 0
    assert await status_of(ctx, message_id) == MessageStatus(
        "abandoned", 1, "http_400: invalid number"
    )
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502])
async def test_these_statuses_are_retried(
    fast_ctx: ServiceContext, gateway: FakeGateway, status: int
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    gateway.fail_next(status)
    message_id = await queue(ctx, channel="sms")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert (found.state, found.attempts) == ("queued", 1)
    assert found.last_error is not None
    assert found.last_error.startswith(f"http_{status}")


async def test_retries_stop_when_the_ttl_runs_out(
    fast_ctx: ServiceContext, gateway: FakeGateway, clock: MovableClock
) -> None:
    ctx = with_settings(webhook_ctx(fast_ctx, gateway), delivery_ttl=timedelta(minutes=5))
    gateway.always(500, {"error": "down"})
    message_id = await queue(ctx, channel="sms")
    async with DeliveryWorker(ctx, listen=False) as worker:
        await worker.run_once()
        clock.advance(timedelta(minutes=5))
        await worker.run_once()
    found = await status_of(ctx, message_id)
    assert found.state == "abandoned"
    assert found.last_error is not None
    assert "AUTHSVC_DELIVERY_TTL" in found.last_error
    assert len(gateway.requests) == 1, "an expired message is not sent"


async def test_slow_gateway_times_out_and_is_retried(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway, sms_timeout=timedelta(milliseconds=200))
    gateway.delay = 1.0
    message_id = await queue(ctx, channel="sms")
    started = time.monotonic()
    await deliver(ctx)
    assert time.monotonic() - started < 0.9
    found = await status_of(ctx, message_id)
    assert (found.state, found.last_error) == ("queued", "timeout")


async def test_unreachable_gateway_is_retried(fast_ctx: ServiceContext) -> None:
    ctx = with_settings(fast_ctx, sms_provider="webhook", sms_webhook_url="http://127.0.0.1:1/sms")
    message_id = await queue(ctx, channel="sms")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert (found.state, found.last_error) == ("queued", "connection_error: ConnectError")


async def test_huge_answer_is_read_only_up_to_the_cap(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    gateway.fail_next(500, payload=b"x" * (8 * 1024 * 1024))
    message_id = await queue(ctx, channel="sms")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.state == "queued"
    assert found.last_error is not None
    assert len(found.last_error) < 400


async def test_gateway_echoing_the_code_never_puts_it_in_last_error(
    fast_ctx: ServiceContext, gateway: FakeGateway
) -> None:
    ctx = webhook_ctx(fast_ctx, gateway)
    gateway.behaviour = lambda request: (422, {"error": f"refused: {request.json()['text']}"})
    message_id = await queue(ctx, channel="sms")
    await deliver(ctx)
    found = await status_of(ctx, message_id)
    assert found.last_error is not None
    assert "[redacted]" in found.last_error
    assert OTP not in found.last_error
