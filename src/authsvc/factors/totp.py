"""The authenticator app step (RFC 6238): nothing is sent; a code of the app's secret,
within one step of the clock, whose time step was never accepted before."""

from __future__ import annotations

import io
import os
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import pyotp
import segno
from sqlalchemy.ext.asyncio import AsyncSession

from authsvc.accounts.models import Account
from authsvc.config import Settings
from authsvc.context import ServiceContext
from authsvc.factors import repository, rules, sealing
from authsvc.factors.strategy import Accepted, Attempted, Begun, Proof, Read


def issuer(settings: Settings) -> str:
    """AUTHSVC_TOTP_ISSUER, else the public URL's host (what the app shows)."""
    if settings.totp_issuer:
        return settings.totp_issuer
    return urlsplit(settings.public_url or "").hostname or settings.host


def otpauth_uri(secret: str, *, issuer_name: str, login: str) -> str:
    """`otpauth://totp/issuer:login?secret=...&issuer=...` (label `issuer:login`)."""
    totp = pyotp.TOTP(secret, digits=rules.TOTP_DIGITS, interval=rules.TOTP_PERIOD)
    return totp.provisioning_uri(name=login, issuer_name=issuer_name)


def qr_svg(uri: str) -> str:
    """The URI as a QR code in SVG, rendered here so the page needs no script for it."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", xmldecl=False, scale=4, border=2)
    return out.getvalue().decode()


def _step(
    ctx: ServiceContext, factor_id: uuid.UUID, sealed: bytes, typed: str, now: datetime
) -> int | None:
    """The time step whose code of the sealed secret is `typed`, or None."""
    return rules.matching_step(sealing.unseal(ctx.keyring, factor_id, sealed), typed, now)


async def accept(
    session: AsyncSession,
    ctx: ServiceContext,
    account_id: uuid.UUID,
    typed: str,
    *,
    now: datetime,
    pending_id: uuid.UUID | None = None,
) -> bool:
    """Whether `typed` is a code of the account's app (or of the pending enrolment
    `pending_id`), its step spent by the statement that accepts it."""
    factor = await repository.get_totp(session, account_id)
    if factor is None or (pending_id is not None and factor.id != pending_id):
        return False
    step = _step(ctx, factor.id, factor.secret_sealed, typed, now)
    if step is None:
        return False
    return await repository.spend_step(session, account_id, step, now=now, pending_id=pending_id)


class TotpStrategy:
    name = "totp"

    async def begin(
        self,
        ctx: ServiceContext,
        account: Account,
        *,
        challenge_id: uuid.UUID,
        channel: str,
        now: datetime,
    ) -> Begun:
        # Nothing is sent: the challenge keeps a code hash no typed code can match.
        return Begun(os.urandom(32))

    def reads(self, proof: Proof) -> Read | None:
        # The app's sealed secret comes with the attempt: one round trip less per check.
        return repository.TOTP_READ if proof.code is not None else None

    async def verify(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        attempted: Attempted,
        proof: Proof,
        *,
        now: datetime,
    ) -> Accepted | None:
        if proof.code is None:
            return None
        account_id = attempted.account.id
        # Read with the attempt: the login asks for `reads` of every proof it checks.
        factor_id, sealed = attempted.read[self.name]
        if factor_id is None:  # no confirmed app
            return None
        step = _step(ctx, factor_id, sealed, proof.code, now)
        if step is None:
            return None
        # Spent by the statement that writes the session: a replayed step writes nothing.
        params = repository.spend_step_params(account_id, step, now=now)
        return Accepted(claim=repository.SPEND_STEP, params=params)
