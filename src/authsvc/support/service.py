"""Support verification: is this the customer's live authorization code? Every call audited."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts import repository as accounts
from authsvc.accounts.models import Account
from authsvc.auth_codes import service as auth_codes
from authsvc.auth_codes.service import Reason
from authsvc.context import ServiceContext
from authsvc.core.errors import AppError
from authsvc.support import keys, repository
from authsvc.support.dependencies import SupportCaller

log = logging.getLogger("authsvc.support")


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason | None = None  # why not valid
    account: Account | None = None  # only when valid
    expires_at: datetime | None = None  # only when valid


async def find_customer(session: AsyncSession, customer: str) -> Account | None:
    """By account id or by login (any case); an id wins over a login that looks like one."""
    try:
        account_id = uuid.UUID(customer)
    except ValueError:
        pass
    else:
        found = await accounts.get_by_id(session, account_id)
        if found is not None:
            return found
    return await accounts.get_by_login(session, customer)


async def verify(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    caller: SupportCaller,
    customer: str,
    code: str,
    purpose: str | None,
    client_ip: str,
) -> Verdict:
    key = caller.key
    account = await find_customer(session, customer)

    async def audit(result: str, code_id: uuid.UUID | None = None) -> None:
        await repository.record_verification(
            session,
            verified_at=ctx.clock.now(),
            support_key_id=key.id,
            account_id=account.id if account else None,
            auth_code_id=code_id,
            result=result,
            purpose=purpose,
            client_ip=client_ip,
        )
        log.info(
            "auth code verification key=%s account=%s result=%s ip=%s",
            key.name,
            account.id if account else "-",
            result,
            client_ip,
        )

    try:
        if caller.over_rate is not None:
            raise caller.over_rate
        keys.require_scope(key, keys.VERIFY_SCOPE)
    except AppError as refusal:
        # The request's session commits on an AppError, so this row is kept.
        await audit("rate_limited" if caller.over_rate else "insufficient_scope")
        raise refusal from None

    # Unknown and disabled customers get the statements a customer without a code
    # gets, against an id that matches nothing: same answer, about the same time.
    live = account if account is not None and not account.disabled else None
    subject = live.id if live is not None else uuid.uuid4()
    check = await auth_codes.check(session, ctx, account_id=subject, code=code)
    await audit(check.result, check.code_id)
    if check.result != "valid":
        return Verdict(valid=False, reason=check.result)
    return Verdict(valid=True, account=live, expires_at=check.expires_at)
