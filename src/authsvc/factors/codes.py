"""The e-mail and SMS code steps: a 6-digit code sent on the channel, its HMAC kept on
the challenge and compared by the statement that spends the attempt."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.core.codes import typed_code_candidates
from authsvc.core.crypto import Keyring
from authsvc.delivery.notify import code_message
from authsvc.factors.strategy import ACCEPTED, Accepted, Attempted, Begun, Proof, Read

OTP_PURPOSE = "login-otp"


def candidates(keyring: Keyring, challenge_id: uuid.UUID, proof: Proof) -> list[bytes]:
    """The HMACs a challenge's code must equal for `proof` to be it (none without a
    code): the login's attempt statement compares them, under every key."""
    typed = proof.code if proof.code is not None else ""
    macs = typed_code_candidates(keyring, OTP_PURPOSE, str(challenge_id), typed)
    return macs if proof.code is not None else []


class CodeStrategy:
    """A code by e-mail or by SMS (`name` is the channel)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def begin(
        self,
        ctx: ServiceContext,
        account: Account,
        *,
        challenge_id: uuid.UUID,
        channel: str,
        now: datetime,
    ) -> Begun:
        code = ctx.codes()
        message = code_message(
            keyring=ctx.keyring, account=account, template="login_otp", code=code,
            valid_for=ctx.settings.login_otp_ttl, now=now, channel=channel,
        )  # fmt: skip
        return Begun(ctx.keyring.sign(OTP_PURPOSE, str(challenge_id), code), message)

    def reads(self, proof: Proof) -> Read | None:
        return None  # the code is compared by the attempt's statement itself

    async def verify(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        attempted: Attempted,
        proof: Proof,
        *,
        now: datetime,
    ) -> Accepted | None:
        # Compared already, by the statement that spent the attempt and used the challenge.
        return ACCEPTED if attempted.code_matched else None
