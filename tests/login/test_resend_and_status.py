from __future__ import annotations

from datetime import timedelta

import httpx

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.delivery.worker import DeliveryWorker
from tests.conftest import make_client, with_codes, with_settings
from tests.factories import make_account
from tests.login.flow import challenge_row, read_otp, start_login
from tests.util import wrong


async def _resend(
    client: httpx.AsyncClient, challenge_id: str, channel: str | None = None
) -> httpx.Response:
    body = {"challenge_id": challenge_id} | ({"channel": channel} if channel else {})
    return await client.post("/login/resend", json=body)


async def _open(ctx: ServiceContext, client: httpx.AsyncClient, **account: object) -> str:
    login = str(account.pop("login", "resender"))
    await make_account(ctx, login=login, **account)  # type: ignore[arg-type]
    return str((await start_login(client, login)).json()["challenge_id"])


async def test_resend_before_thirty_seconds_is_429_with_retry_after(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id = await _open(ctx, client)
    clock.advance(timedelta(seconds=10))
    response = await _resend(client, challenge_id)
    assert response.status_code == 429
    assert response.json()["code"] == "resend_too_soon"
    assert response.headers["retry-after"] == "20"


async def test_resend_replaces_the_code_and_the_old_one_stops_working(
    ctx: ServiceContext, clock: MovableClock
) -> None:
    scripted = with_codes(ctx, "111111", "222222")
    async with make_client(scripted) as client:
        challenge_id = await _open(scripted, client)
        old_code = await read_otp(ctx, challenge_id)
        clock.advance(timedelta(seconds=30))
        response = await _resend(client, challenge_id)
        assert response.status_code == 200, response.text
        assert response.json()["challenge_id"] == challenge_id
        new_code = await read_otp(ctx, challenge_id)
        assert (old_code, new_code) == ("111111", "222222")
        old = await client.post(
            "/login/verify", json={"challenge_id": challenge_id, "code": old_code}
        )
        assert old.status_code == 401
        ok = await client.post(
            "/login/verify", json={"challenge_id": challenge_id, "code": new_code}
        )
        assert ok.status_code == 200


async def test_resend_keeps_the_failure_count(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id = await _open(ctx, client)
    code = await read_otp(ctx, challenge_id)
    for _ in range(3):
        await client.post("/login/verify", json={"challenge_id": challenge_id, "code": wrong(code)})
    clock.advance(timedelta(seconds=30))
    assert (await _resend(client, challenge_id)).status_code == 200
    new_code = await read_otp(ctx, challenge_id)
    response = await client.post(
        "/login/verify", json={"challenge_id": challenge_id, "code": wrong(new_code)}
    )
    assert response.json()["attempts_left"] == 1
    assert (await challenge_row(ctx, challenge_id)).attempts == 4


async def test_at_most_three_resends(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id = await _open(ctx, client)
    for _ in range(3):
        clock.advance(timedelta(seconds=30))
        assert (await _resend(client, challenge_id)).status_code == 200
    clock.advance(timedelta(seconds=30))
    response = await _resend(client, challenge_id)
    assert response.status_code == 429
    assert response.json()["code"] == "resend_limit_reached"
    assert "retry-after" in response.headers


async def test_resend_can_switch_to_sms_when_the_account_has_a_phone(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id = await _open(ctx, client, phone="+48601234789")
    clock.advance(timedelta(seconds=30))
    response = await _resend(client, challenge_id, "sms")
    assert response.status_code == 200
    assert response.json()["channel"] == "sms"
    assert response.json()["destination"] == "+48 *** *** 789"


async def test_resend_to_sms_without_a_phone_is_refused(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id = await _open(ctx, client)
    clock.advance(timedelta(seconds=30))
    response = await _resend(client, challenge_id, "sms")
    assert response.status_code == 422
    assert response.json()["code"] == "channel_unavailable"


async def test_challenge_status_reports_the_state_and_queued_delivery(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    challenge_id = await _open(ctx, client)
    response = await client.get(f"/login/challenges/{challenge_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["delivery"] == "queued"
    assert body["attempts_left"] == 5
    assert body["channel"] == "email"


async def test_challenge_status_of_an_expired_or_unknown_challenge_is_404(
    ctx: ServiceContext, client: httpx.AsyncClient, clock: MovableClock
) -> None:
    challenge_id = await _open(ctx, client)
    clock.advance(timedelta(minutes=11))
    assert (await client.get(f"/login/challenges/{challenge_id}")).status_code == 404
    unknown = await client.get("/login/challenges/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404


async def test_challenge_status_turns_sent_once_the_code_is_delivered(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    challenge_id = await _open(ctx, client)
    async with DeliveryWorker(ctx, listen=False) as worker:
        assert await worker.run_once() == 1  # the OTP; the notice waits for the expiry
    body = (await client.get(f"/login/challenges/{challenge_id}")).json()
    assert body["delivery"] == "sent"


async def test_challenge_status_reports_a_failed_sms_so_the_panel_can_offer_email(
    ctx: ServiceContext,
) -> None:
    unreachable = with_settings(
        ctx,
        sms_provider="webhook",
        sms_webhook_url="http://127.0.0.1:9/sms",  # nothing listens on the discard port
    )
    async with make_client(unreachable) as http:
        challenge_id = await _open(
            unreachable, http, login="smsuser", phone="+48601234789", channel="sms"
        )
        async with DeliveryWorker(unreachable, listen=False) as worker:
            await worker.run_once()
        body = (await http.get(f"/login/challenges/{challenge_id}")).json()
    assert body["channel"] == "sms"
    # Still being retried, but the panel should offer e-mail now, not after the backoff.
    assert body["delivery"] == "failed"
