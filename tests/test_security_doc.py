"""docs/security.md names the tests that prove each claim; every one of them must exist,
and every ASVS requirement in its map must say whether it is met."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECURITY = ROOT / "docs" / "security.md"
# `tests/path/to/test_file.py::test_name`, as the page cites a test.
CITED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
# A row of the ASVS map: | V6.2.1 | ... | status | evidence |
ROW = re.compile(r"^\| \*\*(V\d+\.\d+\.\d+)\*\* \|(.*)$", re.MULTILINE)
STATUSES = ("met", "not met", "partly met", "not applicable")


def _cited() -> list[tuple[str, str]]:
    return CITED.findall(SECURITY.read_text("utf-8"))


def test_every_cited_test_exists() -> None:
    cited = _cited()
    assert len(cited) >= 40, "the page lost its evidence"
    missing = []
    for path, name in cited:
        source = ROOT / path
        text = source.read_text("utf-8") if source.is_file() else ""
        if not re.search(rf"^(async )?def {name}\(", text, re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == [], f"docs/security.md names tests that do not exist: {missing}"


def test_every_requirement_says_whether_it_is_met() -> None:
    rows = ROW.findall(SECURITY.read_text("utf-8"))
    assert {requirement.split(".")[0] for requirement, _ in rows} == {"V6", "V7", "V11", "V16"}
    assert len({requirement for requirement, _ in rows}) == len(rows), "a requirement twice"
    for requirement, rest in rows:
        cells = [cell.strip() for cell in rest.split("|")]
        status = cells[1].strip("*").lower()
        assert status in STATUSES, f"{requirement}: status {cells[1]!r}"
        if status in ("met", "partly met"):
            # A test, a file or setting, or (for documentation requirements) the page.
            evidence = cells[2]
            assert "`" in evidence or "](" in evidence, f"{requirement} is met by what?"
