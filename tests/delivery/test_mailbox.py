"""The dev mailbox: console delivery keeps messages in the data folder, dev mode only."""

from __future__ import annotations

import argparse
import stat
import uuid
from pathlib import Path

import pytest

from authsvc.cli import CommandError, cmd_mailbox
from authsvc.config import Settings
from authsvc.delivery import mailbox
from authsvc.delivery.adapters import build_adapters
from authsvc.delivery.adapters.base import Outgoing
from authsvc.delivery.adapters.console import ConsoleAdapter
from tests.conftest import make_settings


def otp(code: str, to: str = "jan@example.com") -> Outgoing:
    text = f"Your Client Panel sign-in code is:\n\n    {code}\n\nIt is valid for 10 minutes."
    return Outgoing(uuid.uuid4(), to, "en", text, subject="Your Client Panel sign-in code")


async def test_console_delivery_keeps_messages_in_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / mailbox.FILE_NAME
    adapter = ConsoleAdapter("email", path)
    await adapter.send(otp("042917"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [letter] = mailbox.read(path)
    assert (letter.to, letter.subject, letter.code()) == (
        "jan@example.com", "Your Client Panel sign-in code", "042917",
    )  # fmt: skip


async def test_each_code_is_taken_once_and_the_newest_wins(tmp_path: Path) -> None:
    path = tmp_path / mailbox.FILE_NAME
    adapter = ConsoleAdapter("email", path)
    await adapter.send(otp("111111"))
    await adapter.send(otp("222222"))
    taken = mailbox.take_new(path, to=None, wait=0, code=True)
    assert [letter.code() for letter in taken] == ["111111", "222222"]
    assert mailbox.take_new(path, to=None, wait=0, code=True) == []
    await adapter.send(otp("333333", to="eva@example.com"))
    await adapter.send(otp("444444"))
    [letter] = mailbox.take_new(path, to="jan@example.com", wait=0, code=True)
    assert letter.code() == "444444"


def test_the_mailbox_exists_only_in_dev_mode_and_can_be_turned_off(tmp_path: Path) -> None:
    dev = make_settings(data_dir=tmp_path, dev_mailbox=True)
    adapter = build_adapters(dev)["email"]
    assert isinstance(adapter, ConsoleAdapter)
    assert adapter.mailbox_path == tmp_path / mailbox.FILE_NAME
    quiet = build_adapters(make_settings(data_dir=tmp_path, dev_mailbox=False))["sms"]
    assert isinstance(quiet, ConsoleAdapter) and quiet.mailbox_path is None
    args = argparse.Namespace(to=None, new=False, code=False, wait=0.0)
    with pytest.raises(CommandError, match="only in dev mode"):
        cmd_mailbox(args, Settings(env="prod", data_dir=tmp_path))
