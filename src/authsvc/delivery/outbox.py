"""The outbox: what the rest of the service calls to send a message and to follow it.

`new_message` builds a message and `enqueue` writes it in the caller's transaction, so it
exists exactly when the business change that caused it commits; the worker (worker.py)
does the sending.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.core.crypto import Keyring
from authsvc.delivery import rendering, repository
from authsvc.delivery.crypto import seal, unseal
from authsvc.delivery.errors import SealError
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.repository import MessageStatus as MessageStatus

NOTIFY_CHANNEL = "authsvc_outbox"  # the trigger in migration 0002 notifies this channel


def new_message(
    *,
    keyring: Keyring,
    now: datetime,
    channel: Literal["email", "sms"],
    recipient: str,
    template: str,
    params: Mapping[str, str],
    locale: str,
    account_id: uuid.UUID | None = None,
    send_after: datetime | None = None,
    secret_params: Collection[str] = (),
) -> OutboxMessage:
    """A message row, checked and ready for `enqueue` (or for a statement that writes it
    together with other rows, as the login does).

    Parameters named in `secret_params` (the OTP) are stored encrypted; all parameters
    are wiped once the message is sent, abandoned or cancelled.
    """
    if channel not in ("email", "sms"):
        raise ValueError(f"unknown channel {channel!r}")
    if not recipient or recipient != recipient.strip() or "\n" in recipient:
        raise ValueError("recipient must be a bare address or phone number")
    rendering.check(template, locale, params)
    unknown = set(secret_params) - set(params)
    if unknown:
        raise ValueError(f"secret_params not among params: {sorted(unknown)}")

    message_id = uuid.uuid4()
    secrets = {key: params[key] for key in secret_params}
    due = max(now, send_after) if send_after is not None else now
    return OutboxMessage(
        id=message_id,
        account_id=account_id,
        channel=channel,
        recipient=recipient,
        template=template,
        locale=locale,
        params={key: value for key, value in params.items() if key not in secrets},
        sealed_params=seal(keyring, message_id, json.dumps(secrets).encode()) if secrets else None,
        state="queued",
        attempts=0,
        created_at=now,
        send_after=due,
        next_attempt_at=due,
    )


async def enqueue(session: AsyncSession, message: OutboxMessage) -> uuid.UUID:
    """Queue a message from `new_message` in the caller's transaction.

    No flush and no NOTIFY here: the row goes out with the caller's other writes, and
    the outbox_messages_notify trigger (migration 0002) wakes the workers at commit.
    """
    session.add(message)
    return message.id


async def cancel(session: AsyncSession, message_id: uuid.UUID, *, now: datetime) -> None:
    """Stop a queued message (e.g. the "not completed" notice once the login completes).

    A message already sent or abandoned is left as it is.
    """
    await repository.cancel(session, message_id, now=now)


async def message_status(session: AsyncSession, message_id: uuid.UUID) -> MessageStatus | None:
    return await repository.status(session, message_id)


async def read_params(
    session: AsyncSession, keyring: Keyring, message_id: uuid.UUID
) -> dict[str, str] | None:
    """The message's parameters, secrets decrypted; None once wiped or when unknown."""
    stored = await repository.stored_params(session, message_id)
    if stored is None:
        return None
    params, sealed = stored
    return open_params(keyring, message_id, params, sealed)


def open_params(
    keyring: Keyring, message_id: uuid.UUID, params: Mapping[str, str], sealed: bytes | None
) -> dict[str, str]:
    opened = dict(params)
    if sealed is not None:
        secrets = json.loads(unseal(keyring, message_id, sealed))
        if not isinstance(secrets, dict):
            raise SealError("sealed parameters are not an object")
        opened.update({str(key): str(value) for key, value in secrets.items()})
    return opened
