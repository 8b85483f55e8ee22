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
from authsvc.factors.strategy import Attempted, Begun, Proof


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
    secret = sealing.unseal(ctx.keyring, factor.id, factor.secret_sealed)
    step = rules.matching_step(secret, typed, now)
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

    async def verify(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        attempted: Attempted,
        proof: Proof,
        *,
        now: datetime,
    ) -> bool:
        if proof.code is None:
            return False
        return await accept(session, ctx, attempted.account.id, proof.code, now=now)
