from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import select

from authsvc.context import ServiceContext
from authsvc.core.crypto import token_digest
from authsvc.support.models import SupportKey
from tests.cli import run_cli
from tests.factories import make_account
from tests.support.helpers import bearer_session, new_code, verify


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    done = await asyncio.to_thread(run_cli, *args, env=env)
    return done.returncode, done.stdout, done.stderr


async def test_support_keys_create_prints_the_key_alone_and_stores_only_its_digest(
    ctx: ServiceContext, client: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    code, stdout, stderr = await _cli("support-keys", "create", "--name", "helpdesk", env=cli_env)
    assert code == 0, stderr
    assert stdout.endswith("\n") and stdout.count("\n") == 1
    key = stdout.strip()
    assert re.fullmatch(r"asv_[A-Za-z0-9_-]{43}", key)
    assert "helpdesk" in stderr and key not in stderr

    async with ctx.db.transaction() as session:
        stored = (await session.execute(select(SupportKey))).scalar_one()
    assert stored.name == "helpdesk"
    assert stored.key_digest == token_digest(key)
    assert key.encode() not in stored.key_digest

    account = await make_account(ctx)
    auth_code = await new_code(client, await bearer_session(ctx, account))
    assert (await verify(client, key, account.login, auth_code)).json()["valid"] is True


async def test_support_keys_list_and_revoke(
    ctx: ServiceContext, client: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    _, key, _ = await _cli("support-keys", "create", "--name", "chat", env=cli_env)
    scoped = await _cli(
        "support-keys", "create", "--name", "reports", "--scope", "auth-codes:verify", env=cli_env
    )
    assert scoped[0] == 0, scoped[2]

    code, listed, _ = await _cli("support-keys", "list", env=cli_env)
    assert code == 0
    lines = listed.splitlines()
    assert lines[0].split()[:3] == ["NAME", "SCOPES", "STATUS"]
    assert lines[1].split()[:3] == ["chat", "auth-codes:verify", "active"]
    assert lines[2].split()[:3] == ["reports", "auth-codes:verify", "active"]
    assert key.strip() not in listed

    code, out, _ = await _cli("support-keys", "revoke", "chat", env=cli_env)
    assert (code, out.strip()) == (0, "support key chat revoked")
    _, listed, _ = await _cli("support-keys", "list", env=cli_env)
    assert listed.splitlines()[1].split()[:3] == ["chat", "auth-codes:verify", "revoked"]
    assert (await verify(client, key.strip(), "anyone", "123456")).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--name", "dup"), "already exists"),
        (("create", "--name", "bad name!"), "key name"),
        (("create", "--name", "x", "--scope", "NOT A SCOPE"), "known: auth-codes:verify"),
        (("create", "--name", "x", "--scope", "foo:bar"), "'foo:bar' is not a scope authsvc knows"),
        (("revoke", "nobody"), "No support key named"),
    ],
)
async def test_support_keys_errors_are_one_line(
    ctx: ServiceContext, cli_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    await _cli("support-keys", "create", "--name", "dup", env=cli_env)
    code, stdout, stderr = await _cli("support-keys", *args, env=cli_env)
    assert code == 1
    assert stdout == ""
    assert message in stderr and stderr.count("\n") == 1 and "Traceback" not in stderr


async def test_one_shot_commands_log_only_warnings_unless_asked_for_more(
    ctx: ServiceContext, cli_env: dict[str, str]
) -> None:
    """Their answer is what they print: the `support key revoked` info line stays out of
    a terminal, and comes back with -v or an explicit AUTHSVC_LOG_LEVEL."""
    info_line = re.compile(r"^\S+Z INFO authsvc\.support ", re.MULTILINE)
    for name in ("quiet", "verbose", "configured"):
        assert (await _cli("support-keys", "create", "--name", name, env=cli_env))[0] == 0
    quiet = await _cli("support-keys", "revoke", "quiet", env=cli_env)
    verbose = await _cli("-v", "support-keys", "revoke", "verbose", env=cli_env)
    configured = await _cli(
        "support-keys", "revoke", "configured", env={**cli_env, "AUTHSVC_LOG_LEVEL": "info"}
    )
    assert quiet == (0, "support key quiet revoked\n", "")
    assert verbose[0] == 0 and info_line.search(verbose[2]), verbose
    assert configured[0] == 0 and info_line.search(configured[2]), configured
