"""Support verification: is this the customer's live authorization code? Every call audited."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.auth_codes import service as auth_codes
from authsvc.auth_codes.service import Customer, Reason
from authsvc.context import ServiceContext
from authsvc.core.errors import AppError
from authsvc.support import keys, repository
from authsvc.support.dependencies import SupportCaller

log = logging.getLogger("authsvc.support")


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason | None = None  # why not valid
    account: Customer | None = None  # only when valid
    expires_at: datetime | None = None  # only when valid


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

    async def audit(
        result: str, account_id: uuid.UUID | None, code_id: uuid.UUID | None = None
    ) -> None:
        await repository.record_verification(
            session,
            verified_at=ctx.clock.now(),
            support_key_id=key.id,
            account_id=account_id,
            auth_code_id=code_id,
            result=result,
            purpose=purpose,
            client_ip=client_ip,
        )
        log.info(
            "auth code verification key=%s account=%s result=%s ip=%s",
            key.name,
            account_id or "-",
            result,
            client_ip,
        )

    try:
        if caller.over_rate is not None:
            raise caller.over_rate
        keys.require_scope(key, keys.VERIFY_SCOPE)
    except AppError as refusal:
        # The request's session commits on an AppError, so this row is kept.
        account = await auth_codes.find_customer(session, customer)
        result = "rate_limited" if caller.over_rate else "insufficient_scope"
        await audit(result, account.id if account else None)
        raise refusal from None

    check = await auth_codes.check(session, ctx, customer=customer, code=code)
    await audit(check.result, check.customer.id if check.customer else None, check.code_id)
    if check.result != "valid":
        return Verdict(valid=False, reason=check.result)
    return Verdict(valid=True, account=check.customer, expires_at=check.expires_at)
