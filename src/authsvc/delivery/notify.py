"""Messages addressed to an account: to its e-mail or phone, in its language."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Literal

from authsvc.accounts.models import Account
from authsvc.core.crypto import Keyring
from authsvc.delivery import outbox
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.timefmt import utc_and_local


def account_message(
    *,
    keyring: Keyring,
    account: Account,
    template: str,
    params: Mapping[str, str],
    now: datetime,
    channel: Literal["email", "sms"] = "email",
    send_after: datetime | None = None,
    secret_params: Collection[str] = (),
) -> OutboxMessage:
    """`template` addressed to the account; SMS falls back to e-mail without a phone."""
    sms = channel == "sms" and account.phone is not None
    return outbox.new_message(
        keyring=keyring,
        now=now,
        channel="sms" if sms else "email",
        recipient=account.phone if sms and account.phone else account.email,
        template=template,
        params=params,
        locale=account.locale,
        account_id=account.id,
        send_after=send_after,
        secret_params=secret_params,
    )


def code_message(
    *,
    keyring: Keyring,
    account: Account,
    template: str,
    code: str,
    valid_for: timedelta,
    now: datetime,
    channel: str,
) -> OutboxMessage:
    """A one-time code (sealed in the outbox) and how many minutes it is valid, by SMS
    when `channel` is `sms`, else by e-mail."""
    minutes = int(valid_for.total_seconds() // 60)
    return account_message(
        keyring=keyring,
        account=account,
        template=template,
        params={"code": code, "expires_minutes": str(minutes)},
        now=now,
        channel="sms" if channel == "sms" else "email",
        secret_params=("code",),
    )


def time_params(moment: datetime, timezone: str, prefix: str = "time") -> dict[str, str]:
    """`{prefix}_utc` and `{prefix}_local`, as the templates show them."""
    utc, local = utc_and_local(moment, timezone)
    return {f"{prefix}_utc": utc, f"{prefix}_local": local}
