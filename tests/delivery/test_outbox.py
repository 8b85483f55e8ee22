"""The outbox API others code against: enqueue, cancel, status, parameters, at-rest secrecy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from authsvc.context import ServiceContext
from authsvc.core.clock import MovableClock
from authsvc.core.crypto import Keyring
from authsvc.delivery import outbox
from authsvc.delivery.worker import DeliveryWorker
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.helpers import OTP, OTP_PARAMS, queue, raw_row, status_of


async def test_enqueued_message_is_queued_with_no_attempts(ctx: ServiceContext) -> None:
    message_id = await queue(ctx)
    assert await status_of(ctx, message_id) == outbox.MessageStatus("queued", 0, None)


async def test_message_exists_only_when_the_callers_transaction_commits(
    ctx: ServiceContext,
) -> None:
    async with ctx.db.sessionmaker() as session:
        message = outbox.new_message(
            keyring=ctx.keyring, now=ctx.clock.now(), channel="email",
            recipient="anna@example.com", template="login_otp", params=OTP_PARAMS,
            locale="en", secret_params=("code",),
        )  # fmt: skip
        message_id = await outbox.enqueue(session, message)
        await session.rollback()
    async with ctx.db.transaction() as session:
        assert await outbox.message_status(session, message_id) is None


async def test_otp_is_encrypted_at_rest_and_readable_with_the_key(ctx: ServiceContext) -> None:
    message_id = await queue(ctx)
    row = await raw_row(ctx, message_id)
    assert OTP not in row
    assert OTP.encode().hex() not in row
    assert '"expires_minutes": "10"' in row or '"expires_minutes":"10"' in row
    async with ctx.db.transaction() as session:
        assert await outbox.read_params(session, ctx.keyring, message_id) == OTP_PARAMS


async def test_sealed_params_open_only_for_their_own_message(ctx: ServiceContext) -> None:
    first, second = await queue(ctx), await queue(ctx)
    async with ctx.db.transaction() as session:
        # Moving a sealed blob to another row must not yield that row an OTP.
        await session.execute(
            text(
                "UPDATE outbox_messages SET sealed_params = "
                "(SELECT sealed_params FROM outbox_messages WHERE id = :a) WHERE id = :b"
            ),
            {"a": first, "b": second},
        )
    async with ctx.db.transaction() as session:
        with pytest.raises(Exception, match="no configured key"):
            await outbox.read_params(session, ctx.keyring, second)


async def test_a_rotated_key_still_opens_messages_queued_under_the_old_one(
    ctx: ServiceContext,
) -> None:
    message_id = await queue(ctx)
    rotated = Keyring([b"n" * 40, TEST_SECRET_KEY.encode()])
    async with ctx.db.transaction() as session:
        assert await outbox.read_params(session, rotated, message_id) == OTP_PARAMS


async def test_params_are_wiped_once_sent(fast_ctx: ServiceContext) -> None:
    message_id = await queue(fast_ctx)
    async with DeliveryWorker(fast_ctx, listen=False) as worker:  # console adapters
        assert await worker.run_once() == 1
    assert (await status_of(fast_ctx, message_id)).state == "sent"
    async with fast_ctx.db.transaction() as session:
        assert await outbox.read_params(session, fast_ctx.keyring, message_id) is None
        wiped = await session.execute(
            text("SELECT params, sealed_params FROM outbox_messages WHERE id = :id"),
            {"id": message_id},
        )
        assert wiped.one() == (None, None)


async def test_cancel_stops_a_queued_message_and_wipes_it(fast_ctx: ServiceContext) -> None:
    message_id = await queue(fast_ctx)
    async with fast_ctx.db.transaction() as session:
        await outbox.cancel(session, message_id, now=fast_ctx.clock.now())
    async with DeliveryWorker(fast_ctx, listen=False) as worker:
        assert await worker.run_once() == 0
    assert await status_of(fast_ctx, message_id) == outbox.MessageStatus("cancelled", 0, None)
    assert OTP not in await raw_row(fast_ctx, message_id)


async def test_cancel_leaves_a_sent_message_sent(fast_ctx: ServiceContext) -> None:
    message_id = await queue(fast_ctx)
    async with DeliveryWorker(fast_ctx, listen=False) as worker:
        await worker.run_once()
    async with fast_ctx.db.transaction() as session:
        await outbox.cancel(session, message_id, now=fast_ctx.clock.now())
    assert (await status_of(fast_ctx, message_id)).state == "sent"


async def test_send_after_holds_the_message_until_that_time(
    fast_ctx: ServiceContext, clock: MovableClock
) -> None:
    message_id = await queue(fast_ctx, send_after=clock.now() + timedelta(minutes=10))
    async with DeliveryWorker(fast_ctx, listen=False) as worker:
        clock.advance(timedelta(minutes=9, seconds=59))
        assert await worker.run_once() == 0
        clock.advance(timedelta(seconds=1))
        assert await worker.run_once() == 1
    assert (await status_of(fast_ctx, message_id)).state == "sent"


async def test_unknown_message_has_no_status(ctx: ServiceContext) -> None:
    async with ctx.db.transaction() as session:
        assert await outbox.message_status(session, uuid.uuid4()) is None
        assert await outbox.read_params(session, ctx.keyring, uuid.uuid4()) is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"template": "no_such"}, "unknown template"),
        ({"locale": "de"}, "unknown locale"),
        ({"params": {"code": "1"}}, "missing"),
        ({"params": {**OTP_PARAMS, "extra": "x"}}, "unexpected"),
        ({"secret_params": ("nope",)}, "secret_params"),
        ({"recipient": "a@example.com\r\nBcc: x@example.com"}, "recipient"),
        ({"channel": "fax"}, "channel"),
    ],
)
async def test_enqueue_refuses_a_callers_mistake_at_once(
    ctx: ServiceContext, change: dict[str, object], error: str
) -> None:
    arguments: dict[str, object] = {
        "channel": "email", "recipient": "anna@example.com", "template": "login_otp",
        "params": OTP_PARAMS, "locale": "en", "secret_params": ("code",),
    }  # fmt: skip
    arguments.update(change)
    with pytest.raises(ValueError, match=error):
        outbox.new_message(
            keyring=ctx.keyring,
            now=ctx.clock.now(),
            **arguments,  # type: ignore[arg-type]
        )
