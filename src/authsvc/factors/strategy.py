"""The one interface every second step implements (Kratos's selfservice/strategy model).

A login asks the strategy of the step it wants to *begin* (what `/login` answers and
sends), and every strategy its challenge accepts to *verify* a proof. The login spends
the challenge's attempt first, in the statement that also compares a sent code and reads
what a strategy asked for (its `Read`), so every proof, whatever its kind, costs one of
the challenge's attempts, and a strategy's check needs no read of its own. Adding a
factor adds a module and an entry in `STRATEGIES`, never a branch in the login.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from authsvc.accounts.models import Account
from authsvc.context import ServiceContext
from authsvc.delivery.models import OutboxMessage


@dataclass(frozen=True)
class Proof:
    """What `/login/verify` was given; each strategy reads the part that is its own."""

    code: str | None = None  # an e-mail or SMS code, or the app's
    recovery_code: str | None = None
    passkey: Mapping[str, Any] | None = None  # PublicKeyCredential.toJSON()


@dataclass(frozen=True)
class Begun:
    """What beginning a step produced: the secret the challenge row keeps (an HMAC of the
    code sent; random when nothing is sent), the message to queue, extra answer fields."""

    code_hash: bytes
    message: OutboxMessage | None = None
    answer: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)  # compared by identity: each is built once, a cache key
class Read:
    """Columns a strategy's `verify` needs, correlated to the account (`accounts.id`):
    the login's attempt statement returns them, so the check costs no round trip of its
    own. That statement evaluates them only for a challenge that accepts `factor`."""

    factor: str
    columns: tuple[ColumnElement[Any], ...]


@dataclass(frozen=True)
class Attempted:
    """A login challenge whose attempt was just spent (login.repository.spend_attempt)."""

    challenge_id: uuid.UUID
    account: Account
    code_matched: bool  # the typed code is the one sent, compared by that statement
    ip: str = "-"  # the client's, for what a refusal records
    user_agent: str = ""
    # What that statement read for each strategy's `Read`, by factor (None: not accepted).
    read: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    """A proof completes the step, once what it uses up is used up.

    `claim` uses it up (a time step, a recovery code): an UPDATE ... RETURNING, built
    once, with its bound `params`, that returns a row for exactly one of concurrent
    callers. The login runs it inside the statement that writes the session, which
    writes nothing unless the claim returned a row: no round trip of its own. Without a
    claim (a sent code, a passkey) the proof was used up already. `messages` (a recovery
    code's notice) are queued by that statement too, and `then` runs once it held."""

    claim: ReturningUpdate[Any] | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    messages: Sequence[OutboxMessage] = ()
    then: Callable[[], None] | None = None


ACCEPTED = Accepted()


class Strategy(Protocol):
    name: str  # the factor's name in the API (`factor`, `factors`)

    async def begin(
        self,
        ctx: ServiceContext,
        account: Account,
        *,
        challenge_id: uuid.UUID,
        channel: str,
        now: datetime,
    ) -> Begun:
        """Start this step for a new challenge (or a resend); what it stores (a passkey
        challenge) it writes in its own statement."""
        ...  # pragma: no cover

    def reads(self, proof: Proof) -> Read | None:
        """What `verify` will need to read for `proof`, read with the attempt (or None)."""
        ...  # pragma: no cover

    async def verify(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        attempted: Attempted,
        proof: Proof,
        *,
        now: datetime,
    ) -> Accepted | None:
        """Whether `proof` completes this step (None: it does not); what it uses up (a
        time step, a recovery code) is used up by its `claim`, the statement that
        accepts it."""
        ...  # pragma: no cover
