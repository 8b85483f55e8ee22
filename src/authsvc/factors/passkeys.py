"""Passkeys (WebAuthn), verified by py_webauthn: registration, the second step, and the
assertions that sign in on their own or re-authenticate.

Every ceremony has a challenge row (`PasskeyChallenge`): random, bound to its flow and
its subject, expired after 5 minutes, and used by the statement that checks it is still
there and unexpired (`repository.consume_passkey_challenge`), after the signature
verified, so a refused assertion leaves it usable and a replayed one finds it gone.
Options and credentials travel as the WebAuthn JSON forms
(`PublicKeyCredentialCreationOptionsJSON`, `PublicKeyCredential.toJSON()`).
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import cbor2
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.parse_registration_credential_json import (
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authsvc.accounts import repository as accounts
from authsvc.accounts.models import Account
from authsvc.config import Settings
from authsvc.context import ServiceContext
from authsvc.delivery import outbox
from authsvc.delivery.notify import account_message, time_params
from authsvc.factors import repository, rules
from authsvc.factors.errors import (
    InvalidPasskey,
    PasskeyChallengeExpired,
    PasskeyCounterRegressed,
    PasskeyNotAccepted,
)
from authsvc.factors.models import PasskeyChallenge, PasskeyCredential
from authsvc.factors.strategy import ACCEPTED, Accepted, Attempted, Begun, Proof, Read
from authsvc.factors.totp import issuer
from authsvc.ops.events import auth_event

log = logging.getLogger(__name__)

REGISTER = "register"  # bound to the session that registers
REAUTH = "reauth"  # bound to the session that re-authenticates
LOGIN = "login"  # the second step: bound to the login challenge
PASSWORDLESS = "passwordless"  # bound to itself: its id is the flow id

# What a malformed credential can raise from the decoders under py_webauthn: bad input,
# never a 500.
_MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, binascii.Error,
              cbor2.CBORError, OverflowError)  # fmt: skip
_TIMEOUT_MS = int(rules.PASSKEY_CHALLENGE_TTL.total_seconds() * 1000)


# --- the relying party ------------------------------------------------------------------


def rp_id(settings: Settings) -> str:
    """The relying party id: the host of AUTHSVC_PUBLIC_URL."""
    return urlsplit(settings.public_url or "").hostname or settings.host


def expected_origins(settings: Settings) -> list[str]:
    """Origins an assertion may come from: the public URL's and AUTHSVC_ALLOWED_ORIGINS."""
    return list(dict.fromkeys([*settings.own_origins, *settings.allowed_origins]))


def unusable_origins(settings: Settings) -> list[str]:
    """Allowed origins whose host is neither the relying party id nor a subdomain of it:
    a browser refuses passkeys there, whatever the service accepts."""
    rp = rp_id(settings)
    return [
        origin
        for origin in expected_origins(settings)
        if not rules.origin_usable(urlsplit(origin).hostname, rp)
        and not (settings.is_dev and urlsplit(origin).hostname in ("localhost", "127.0.0.1"))
    ]


def warn_unusable_origins(settings: Settings) -> None:
    """Say at startup which allowed origins cannot use passkeys."""
    for origin in unusable_origins(settings):
        log.warning(
            "AUTHSVC_ALLOWED_ORIGINS: %s is not %s or a subdomain of it, so passkeys cannot "
            "work there (the relying party id is the host of AUTHSVC_PUBLIC_URL)",
            origin, rp_id(settings),
        )  # fmt: skip


# --- challenges ---------------------------------------------------------------------------


async def _new_challenge(
    session: AsyncSession,
    *,
    flow: str,
    bound_to: uuid.UUID | None,
    now: datetime,
) -> PasskeyChallenge:
    """A fresh random challenge for `flow`, stored; bound to itself when `bound_to` is None."""
    challenge_id = uuid.uuid4()
    row = PasskeyChallenge(
        id=challenge_id, challenge=os.urandom(rules.PASSKEY_CHALLENGE_BYTES), flow=flow,
        bound_to=bound_to or challenge_id, created_at=now,
        expires_at=now + rules.PASSKEY_CHALLENGE_TTL,
    )  # fmt: skip
    await repository.add_passkey_challenge(session, row)
    return row


def _descriptors(passkeys: list[PasskeyCredential]) -> list[PublicKeyCredentialDescriptor]:
    known = {transport.value for transport in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=passkey.credential_id,
            transports=[AuthenticatorTransport(t) for t in passkey.transports if t in known],
        )
        for passkey in passkeys
    ]


def _as_json(options: object) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(options_to_json(options))  # type: ignore[arg-type]
    return result


async def _challenge_of(
    session: AsyncSession,
    client_data_b64: bytes,
    *,
    flow: str,
    bound_to: uuid.UUID,
    now: datetime,
    refusal: type[InvalidPasskey] | type[PasskeyNotAccepted],
) -> PasskeyChallenge:
    """The stored challenge the client data answers, issued for this flow and subject;
    refused when there is none (replayed, another flow's) or it has expired."""
    try:
        client_data = parse_client_data_json(client_data_b64)
    except _MALFORMED:
        raise refusal() from None
    row = await repository.find_passkey_challenge(
        session, client_data.challenge, flow=flow, bound_to=bound_to
    )
    if row is None:
        raise refusal()
    if row.expires_at <= now:
        raise PasskeyChallengeExpired()
    return row


def _client_data(credential: RegistrationCredential | AuthenticationCredential) -> bytes:
    data = credential.response.client_data_json
    if len(data) > rules.MAX_CLIENT_DATA_CHARS:
        raise ValueError("clientDataJSON too long")
    return data


# --- registration ---------------------------------------------------------------------------


async def registration_options(
    session: AsyncSession, ctx: ServiceContext, account: Account, *, bound_to: uuid.UUID
) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptionsJSON` for a new discoverable passkey of the
    account (its passkeys excluded), with its challenge stored."""
    now = ctx.clock.now()
    row = await _new_challenge(session, flow=REGISTER, bound_to=bound_to, now=now)
    existing = await repository.passkeys(session, account.id)
    options = generate_registration_options(
        rp_id=rp_id(ctx.settings), rp_name=issuer(ctx.settings), user_name=account.login,
        user_id=account.id.bytes, challenge=row.challenge, timeout=_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, require_resident_key=True,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(existing),
    )  # fmt: skip
    return _as_json(options)


@dataclass(frozen=True)
class Registered:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    backed_up: bool
    transports: list[str]


async def verify_registration(
    session: AsyncSession,
    ctx: ServiceContext,
    credential: Mapping[str, Any],
    *,
    bound_to: uuid.UUID,
    now: datetime,
) -> Registered:
    """Check a new passkey against the registration challenge of `bound_to`, and use the
    challenge; refused with 400 invalid_passkey (410 when the challenge expired)."""
    try:
        parsed = parse_registration_credential_json(dict(credential))
        client_data = _client_data(parsed)
    except _MALFORMED:
        raise InvalidPasskey() from None
    row = await _challenge_of(
        session, client_data, flow=REGISTER, bound_to=bound_to, now=now, refusal=InvalidPasskey
    )
    try:
        verified = verify_registration_response(
            credential=parsed, expected_challenge=row.challenge,
            expected_rp_id=rp_id(ctx.settings), expected_origin=expected_origins(ctx.settings),
        )  # fmt: skip
    except _MALFORMED:
        raise InvalidPasskey() from None
    if not await repository.consume_passkey_challenge(session, row.id, now=now):
        raise InvalidPasskey()
    transports = [t.value for t in parsed.response.transports or []]
    return Registered(
        verified.credential_id, verified.credential_public_key, verified.sign_count,
        verified.credential_backed_up, transports[:8],
    )  # fmt: skip


# --- assertions -----------------------------------------------------------------------------


async def authentication_options(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    flow: str,
    bound_to: uuid.UUID | None,
    account_id: uuid.UUID | None,
    now: datetime,
) -> tuple[uuid.UUID, dict[str, Any]]:
    """`PublicKeyCredentialRequestOptionsJSON` with its challenge stored (its id first):
    the account's passkeys allowed, or any discoverable one when `account_id` is None."""
    row = await _new_challenge(session, flow=flow, bound_to=bound_to, now=now)
    allowed = await repository.passkeys(session, account_id) if account_id else []
    verification = (
        UserVerificationRequirement.PREFERRED
        if flow == LOGIN
        else UserVerificationRequirement.REQUIRED
    )
    options = generate_authentication_options(
        rp_id=rp_id(ctx.settings), challenge=row.challenge, timeout=_TIMEOUT_MS,
        allow_credentials=_descriptors(allowed), user_verification=verification,
    )  # fmt: skip
    return row.id, _as_json(options)


@dataclass(frozen=True)
class Who:
    """Where an assertion came from, for the security event of a copied passkey."""

    ip: str
    user_agent: str


async def verify_assertion(
    session: AsyncSession,
    ctx: ServiceContext,
    credential: Mapping[str, Any],
    *,
    flow: str,
    bound_to: uuid.UUID,
    account_id: uuid.UUID | None,
    user_verification: bool,
    who: Who,
    now: datetime,
) -> PasskeyCredential:
    """The passkey that signed the challenge of `flow` and `bound_to` (one of
    `account_id`'s when given), its counter stored and the challenge used.

    Refused with 401 invalid_passkey, 410 when the challenge expired, and
    passkey_counter_regressed when the counter went back: that refusal has written a
    security event and queued the customer's notice, for the caller to keep."""
    try:
        parsed = parse_authentication_credential_json(dict(credential))
        client_data = _client_data(parsed)
    except _MALFORMED:
        raise PasskeyNotAccepted() from None
    row = await _challenge_of(
        session, client_data, flow=flow, bound_to=bound_to, now=now, refusal=PasskeyNotAccepted
    )
    passkey = await repository.passkey_by_credential_id(session, parsed.raw_id)
    if passkey is None or (account_id is not None and passkey.account_id != account_id):
        raise PasskeyNotAccepted()
    handle = parsed.response.user_handle
    if handle is not None and handle != passkey.account_id.bytes:
        raise PasskeyNotAccepted()
    try:
        # The counter is judged below (rules.counter_regressed), so a regression can be
        # told apart from a bad signature: the library is given 0.
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=row.challenge,
            expected_rp_id=rp_id(ctx.settings), expected_origin=expected_origins(ctx.settings),
            credential_public_key=passkey.public_key, credential_current_sign_count=0,
            require_user_verification=user_verification,
        )  # fmt: skip
    except _MALFORMED:
        raise PasskeyNotAccepted() from None
    if rules.counter_regressed(passkey.sign_count, verified.new_sign_count):
        await _copied(session, ctx, passkey, verified.new_sign_count, who=who, now=now)
        raise PasskeyCounterRegressed()
    if not await repository.consume_passkey_challenge(session, row.id, now=now):
        raise PasskeyNotAccepted()
    if not await repository.record_passkey_use(
        session, passkey.id, sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up, now=now,
    ):  # fmt: skip
        raise PasskeyNotAccepted()  # a concurrent assertion took this counter value
    return passkey


async def _copied(
    session: AsyncSession,
    ctx: ServiceContext,
    passkey: PasskeyCredential,
    received: int,
    *,
    who: Who,
    now: datetime,
) -> None:
    """Record a counter regression as a security event and tell the customer."""
    detail = f"passkey {passkey.id} ({passkey.name}): counter {received} after {passkey.sign_count}"
    await repository.record_security_event(
        session, passkey.account_id, kind="passkey_counter_regressed", ip=who.ip,
        user_agent=who.user_agent, detail=detail, now=now,
    )  # fmt: skip
    account = await accounts.get_by_id(session, passkey.account_id)
    if account is not None:
        message = account_message(
            keyring=ctx.keyring, account=account, template="passkey_counter_regressed",
            params={"login": account.login, "name": passkey.name,
                    **time_params(now, ctx.settings.timezone), "ip": who.ip},
            now=now,
        )  # fmt: skip
        await outbox.enqueue(session, message)
    auth_event("passkey_counter_regressed", outcome="refused", ip=who.ip,
               account=passkey.account_id, passkey=str(passkey.id))  # fmt: skip


# --- the second step ---------------------------------------------------------------------------


class PasskeyStrategy:
    """A passkey of the account as the second step: the options (its passkeys allowed)
    go in `/login`'s answer; `/login/verify {passkey}` finishes it."""

    name = "passkey"

    async def begin(
        self,
        ctx: ServiceContext,
        account: Account,
        *,
        challenge_id: uuid.UUID,
        channel: str,
        now: datetime,
    ) -> Begun:
        # Written before the login challenge, in its own statement: an orphan (a failed
        # login) expires with the rest and is purged.
        async with ctx.db.autocommit() as session:
            _, options = await authentication_options(
                session, ctx, flow=LOGIN, bound_to=challenge_id, account_id=account.id, now=now
            )
        return Begun(os.urandom(32), answer={"passkey_options": options})

    def reads(self, proof: Proof) -> Read | None:
        return None  # the assertion names its credential: read by verify_assertion

    async def verify(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        attempted: Attempted,
        proof: Proof,
        *,
        now: datetime,
    ) -> Accepted | None:
        if proof.passkey is None:
            return None
        try:
            await verify_assertion(
                session, ctx, proof.passkey, flow=LOGIN, bound_to=attempted.challenge_id,
                account_id=attempted.account.id, user_verification=False,
                who=Who(attempted.ip, attempted.user_agent), now=now,
            )  # fmt: skip
        except (PasskeyNotAccepted, PasskeyChallengeExpired, PasskeyCounterRegressed):
            return None  # a wrong attempt, like a wrong code (the event is kept with it)
        return ACCEPTED
