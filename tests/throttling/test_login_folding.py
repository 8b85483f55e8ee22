"""One normalisation of a typed login for every lookup and every key (security review,
finding 3): Unicode look-alikes of an ASCII login never reach the account and never get
a throttle counter of their own."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from authsvc.accounts import logins
from authsvc.context import ServiceContext
from authsvc.throttling.models import ThrottleCounter
from authsvc.throttling.rules import login_key
from tests.conftest import make_client
from tests.factories import PASSWORD, make_account
from tests.login.flow import start_login
from tests.protection.helpers import sent

# Each folds to an ASCII login under one rule or another (Python's str.lower or casefold,
# PostgreSQL's lower() in some locale, NFKC), so each must be refused before any lookup.
LOOK_ALIKES = [
    "t\u0130ri",  # İ, LATIN CAPITAL LETTER I WITH DOT ABOVE: lower() gives "i̇"
    "tir\u0130",
    "t\u0130r\u0130",
    "stra\u00dfe",  # ß: casefold() gives "ss"
    "\u017ftrasse",  # ſ, LONG S: casefold() gives "s"
    "\u212aelvin",  # K, KELVIN SIGN: lower() gives "k"
    "\uff54\uff49\uff52\uff49",  # ｔｉｒｉ, full-width: NFKC gives "tiri"
    "ti\u0301ri",  # a combining acute accent
    "tiri\u200b",  # a zero-width space
]


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("tiri", "tiri"),
        ("TiRi", "tiri"),
        ("  Jan.Kowalski@Example.COM ", "jan.kowalski@example.com"),
    ],
)
def test_an_ascii_login_folds_to_one_key(typed: str, folded: str) -> None:
    assert logins.fold(typed) == folded


@pytest.mark.parametrize("typed", [*LOOK_ALIKES, "", "ab", "x" * 65, "-tiri", "ti ri"])
def test_what_can_never_be_a_login_folds_to_nothing(typed: str) -> None:
    assert logins.fold(typed) is None


async def _counters(ctx: ServiceContext) -> int:
    async with ctx.db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(ThrottleCounter)) or 0


@pytest.mark.parametrize("typed", LOOK_ALIKES)
async def test_a_look_alike_is_refused_before_any_lookup_or_count(
    ctx: ServiceContext, client: httpx.AsyncClient, typed: str
) -> None:
    await make_account(ctx, login="tiri")
    await make_account(ctx, login="strasse")
    await make_account(ctx, login="kelvin")
    refused = await start_login(client, typed, PASSWORD)  # the right password, even
    unknown = await start_login(client, "nobody-here", PASSWORD)
    assert refused.status_code == 401
    assert refused.content == unknown.content  # byte-identical to an unknown login
    async with ctx.db.transaction() as session:
        keys = (await session.scalars(select(ThrottleCounter.key))).all()
    assert login_key(typed) not in keys and not any("tiri" in key for key in keys)


async def test_look_alikes_share_the_one_counter_of_the_login(ctx: ServiceContext) -> None:
    """The 2^n spellings of the review: none opens a counter; ASCII case variants all
    count on the login's own key, so the back-off starts after the free failures."""
    await make_account(ctx, login="tiri")
    async with make_client(ctx, ip="198.51.100.50") as attacker:
        for typed in LOOK_ALIKES:
            assert (await start_login(attacker, typed, "guess")).status_code == 401
        statuses = [
            (await start_login(attacker, typed, "guess")).status_code
            for typed in ("tiri", "TIRI", "Tiri", " tIRi ", "tiRI")
        ]
    assert statuses == [401, 401, 401, 401, 429]
    async with ctx.db.transaction() as session:
        keys = set((await session.scalars(select(ThrottleCounter.key))).all())
    assert keys == {login_key("tiri"), "login:ip:198.51.100.50"}


@pytest.mark.parametrize("typed", ["t\u0130ri", "\uff54\uff49\uff52\uff49"])
async def test_a_look_alike_gets_no_reset_code(
    ctx: ServiceContext, client: httpx.AsyncClient, typed: str
) -> None:
    account = await make_account(ctx, login="tiri")
    answer = await client.post("/password/reset", json={"login": typed})
    assert answer.status_code == 202
    assert await sent(ctx, "password_reset_code", account.id) == []
