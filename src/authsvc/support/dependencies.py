"""`SupportCaller`: the support tool behind a request, from its Bearer API key."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from authsvc.context import Context
from authsvc.core.client_ip import ClientIP
from authsvc.core.errors import RetryLater
from authsvc.sessions.dependencies import bearer_token
from authsvc.support import keys
from authsvc.support.keys import InvalidApiKey
from authsvc.support.models import SupportKey
from authsvc.throttling.service import hit_rate_limit

log = logging.getLogger("authsvc.support")


@dataclass(frozen=True)
class SupportCaller:
    key: SupportKey
    # Set when the key is over its rate: the service audits the call, then raises it.
    over_rate: RetryLater | None


def rate_key(key: SupportKey) -> str:
    return f"rate:support-key:{key.id}"


async def require_support_key(request: Request, ctx: Context, client_ip: ClientIP) -> SupportCaller:
    """Authenticate the key and count the call against its rate.

    Both statements run on their own (autocommit), before the request's session takes
    a connection: the key's counter row is then locked for one statement, not for the
    whole verification, so one tool's calls do not queue behind each other; and no
    BEGIN/COMMIT round trips are spent on them.
    """
    now = ctx.clock.now()
    async with ctx.db.autocommit() as session:
        try:
            key = await keys.authenticate(session, bearer_token(request))
        except InvalidApiKey:
            log.warning("support API key rejected ip=%s", client_ip)
            raise
        try:
            await hit_rate_limit(
                session,
                rate_key(key),
                limit=ctx.settings.support_key_rate_limit,
                window=ctx.settings.support_key_rate_window,
                now=now,
            )
        except RetryLater as refusal:
            return SupportCaller(key=key, over_rate=refusal)
    return SupportCaller(key=key, over_rate=None)


CurrentSupportCaller = Annotated[SupportCaller, Depends(require_support_key)]
