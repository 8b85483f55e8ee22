"""The dev mailbox: what the console adapter "sent", kept in a file for `authsvc mailbox`.

Development only, like the console adapter that writes it (refused outside dev mode). It
plays the part of a MailHog-style catch-all inbox without another server: one JSON object
per line in `<data dir>/mailbox.jsonl` (owner-only, beside the dev secret key), so a
reader of the README's walk-through, or a script, can take a login code without copying it by hand.
A cursor file remembers the last message `--new` or `--code` showed, as a mail reader
marks messages read, so each new code is picked up once and in order.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "mailbox.jsonl"
_CURSOR_SUFFIX = ".seen"
# A login code stands alone on an indented line of an e-mail's text (both languages);
# an SMS is one short sentence where the only run of six digits is the code.
_EMAIL_CODE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)
_SMS_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass(frozen=True)
class Letter:
    message_id: str
    at: str  # UTC, ISO 8601
    channel: str
    to: str
    subject: str | None
    text: str

    def code(self) -> str | None:
        found = (_EMAIL_CODE if self.channel == "email" else _SMS_CODE).search(self.text)
        return found.group(1) if found else None

    def render(self) -> str:
        lines = [f"----- {self.channel} to {self.to} at {self.at} -----"]
        if self.subject is not None:
            lines.append(f"Subject: {self.subject}")
        return "\n".join([*lines, self.text.rstrip(), ""])


def append(path: Path, letter: Letter) -> None:
    """Add one message; a single O_APPEND write, so workers writing at once don't interleave."""
    line = json.dumps(asdict(letter), ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(path: Path) -> list[Letter]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return []
    # A line still being written by the server is not a message yet.
    letters = []
    for line in lines:
        try:
            letters.append(Letter(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return letters


def _unseen(path: Path, letters: list[Letter]) -> list[Letter]:
    try:
        seen = (path.parent / (path.name + _CURSOR_SUFFIX)).read_text().strip()
    except FileNotFoundError:
        return letters
    ids = [letter.message_id for letter in letters]
    # An unknown cursor (the mailbox was emptied) means everything is new.
    return letters[ids.index(seen) + 1 :] if seen in ids else letters


def _mark_seen(path: Path, letter: Letter) -> None:
    (path.parent / (path.name + _CURSOR_SUFFIX)).write_text(letter.message_id + "\n")


def take_new(path: Path, *, to: str | None, wait: float, code: bool) -> list[Letter]:
    """The messages (to `to`) that arrived since the last call, waiting up to `wait`
    seconds for one (one with a code, if `code`); [] when none came."""
    deadline = time.monotonic() + wait
    while True:
        fresh = _unseen(path, read(path))
        wanted = [x for x in fresh if to is None or x.to == to]
        if wanted and (not code or any(x.code() for x in wanted)):
            _mark_seen(path, fresh[-1])
            return wanted
        if time.monotonic() >= deadline:
            return []
        time.sleep(0.1)
