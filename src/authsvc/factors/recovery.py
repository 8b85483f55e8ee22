"""Recovery codes: the step for a customer without the app at hand.

Each code carries 80 random bits, so a keyed hash (HMAC-SHA256 under the server secret,
bound to the account) is enough: a password hash's work factor exists to slow guesses
at low-entropy secrets, while 2^80 candidates cannot be searched even with the key, and
without the key a stolen table gives nothing to search. It also keeps a check as cheap
as a login code's, and lets one indexed statement find and use the code.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.crypto import Keyring
from authsvc.delivery.models import OutboxMessage
from authsvc.delivery.notify import account_message, time_params
from authsvc.factors import repository, rules
from authsvc.factors.strategy import Accepted, Attempted, Begun, Proof, Read
from authsvc.ops.events import auth_event

PURPOSE = "recovery-code"


def code_hashes(keyring: Keyring, account_id: uuid.UUID, typed: str) -> list[bytes]:
    """The HMACs (under every key) a stored code must equal for `typed` to be it; none
    when it cannot be a recovery code."""
    symbols = rules.normalise_recovery_code(typed)
    macs = keyring.sign_all(PURPOSE, str(account_id), symbols or "")
    return macs if symbols is not None else []


async def issue_set(
    session: AsyncSession, ctx: ServiceContext, account_id: uuid.UUID, *, now: datetime
) -> list[str]:
    """A new set of codes, shown once (returned); the old set stops working."""
    codes = [rules.new_recovery_code() for _ in range(rules.RECOVERY_CODES_PER_SET)]
    hashes = [ctx.keyring.sign(PURPOSE, str(account_id), rules.normalise_recovery_code(c) or "")
              for c in codes]  # fmt: skip
    await repository.replace_recovery_codes(session, account_id, hashes, now=now)
    return codes


class RecoveryStrategy:
    name = rules.RECOVERY

    async def begin(
        self,
        ctx: ServiceContext,
        account: Account,
        *,
        challenge_id: uuid.UUID,
        channel: str,
        now: datetime,
    ) -> Begun:
        return Begun(os.urandom(32))  # never asked for first; nothing is sent

    def reads(self, proof: Proof) -> Read | None:
        # The codes left come with the attempt; the code itself is matched by the claim
        # (its HMACs are bound to the account, known only from the challenge).
        return repository.RECOVERY_READ if proof.recovery_code is not None else None

    async def verify(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        attempted: Attempted,
        proof: Proof,
        *,
        now: datetime,
    ) -> Accepted | None:
        if proof.recovery_code is None:
            return None
        account = attempted.account
        candidates = code_hashes(ctx.keyring, account.id, proof.recovery_code)
        if not candidates:
            return None
        # Read with the attempt: the login asks for `reads` of every proof it checks.
        (unused,) = attempted.read[self.name]
        if not unused:
            return None
        # Left once this one is used, as the attempt's snapshot saw them (a use of another
        # code at the same moment may not show, as with any read before a write).
        remaining = unused - 1

        def used() -> None:
            auth_event("recovery_code_used", outcome="success", account=account.id,
                       remaining=remaining)  # fmt: skip

        return Accepted(
            claim=repository.USE_RECOVERY_CODE,
            params=repository.use_recovery_code_params(account.id, candidates, now=now),
            messages=(_used_notice(ctx, account, remaining, now),), then=used,
        )  # fmt: skip


def _used_notice(
    ctx: ServiceContext, account: Account, remaining: int, now: datetime
) -> OutboxMessage:
    template = "recovery_code_used_low" if remaining <= rules.RECOVERY_LOW else "recovery_code_used"
    return account_message(
        keyring=ctx.keyring, account=account, template=template,
        params={"login": account.login, **time_params(now, ctx.settings.timezone),
                "remaining": str(remaining)},
        now=now,
    )  # fmt: skip
