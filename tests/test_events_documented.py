"""Every auth event the code logs has its row in docs/operations.md's table, and no row is stale."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _logged() -> set[str]:
    # auth_event("name", ...), the name handed to a helper that logs it (event="name"), or
    # a module's one event (EVENT = "name", ops/drain.py).
    pattern = re.compile(r'(?:auth_event\(\s*|event=|^EVENT = )"([a-z0-9_]+)"', re.MULTILINE)
    return {
        name
        for path in (ROOT / "src" / "authsvc").rglob("*.py")
        for name in pattern.findall(path.read_text())
    }


def _documented() -> set[str]:
    readme = (ROOT / "docs" / "operations.md").read_text()
    table = readme.split("| event | outcome | when |", 1)[1].split("\n\n", 1)[0]
    first_cells = (line.split("|")[1] for line in table.splitlines()[2:])
    return {name for cell in first_cells for name in re.findall(r"`([a-z0-9_]+)`", cell)}


def test_every_logged_event_is_documented_once() -> None:
    logged = _logged()
    assert logged, "the pattern found no events: has auth_event been renamed?"
    assert logged - _documented() == set(), "events missing from the table in docs/operations.md"
    # The delivery worker composes its event names (worker.py, `_EVENTS`).
    assert _documented() - logged == {"message_sent", "message_failed", "message_abandoned"}
