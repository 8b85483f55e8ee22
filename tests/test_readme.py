"""The README's walk-through runs as written, so it cannot drift from the service.

Its ```sh blocks are run in order by one bash (`set -euo pipefail`) in the checkout against
a live `authsvc serve`, with two substitutions, both spelled out below: where the server
listens, and the virtualenv's `authsvc` for `python3 dev.py authsvc` (dev.py would run the
checkout's `.venv`, which need not be the interpreter under test). Every `# ` line in a
block is an answer shown to the reader; each must match a whole line of what the block
printed, in order, with `…` standing for anything and dates, times, codes and timestamps
for any such value. What a reader's terminal would show is checked too: each answer ends
its line (no `{…}{…}` run together), the commands print no log lines, and the walk-through
leaves nothing in the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.servers import Authsvc, scratch_database
from tests.conftest import TEST_SECRET_KEY
from tests.util import free_port

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Walk-through"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# What differs from run to run; the README shows an example value of each kind.
VARYING = [
    (re.compile(r"\d{4}-\d{2}-\d{2}"), r"\d{4}-\d{2}-\d{2}"),  # a date
    # a time, and the local one may carry its date when it is another day than in UTC
    (re.compile(r"\d{2}:\d{2}(:\d{2})?"), r"(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}(:\d{2})?"),
    (re.compile(r"\d{5,}"), r"\d+"),  # a code, a phone number, a Unix time
]
NATURAL_TIME = re.compile(r"\d{2}:\d{2} UTC \((\d{4}-\d{2}-\d{2} )?\d{2}:\d{2} Europe/Warsaw\)")
# A line of authsvc's text log (ops/logs.py), at any level.
LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z [A-Z]+ ", re.MULTILINE)
# About 10 s here (some 20 CLI starts, a 2 s resend wait); under pytest-timeout's 120 s.
TIMEOUT = 90


def walkthrough() -> list[str]:
    text = README.read_text("utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    blocks = BLOCK.findall(text[start : end if end != -1 else None])
    assert len(blocks) >= 10, "the walk-through lost its shell blocks"
    return list(blocks)


def answer_pattern(line: str) -> re.Pattern[str] | None:
    """The regex of the whole output line one answer line stands for; None for a line
    that shows nothing."""
    shown = line.removeprefix("#").strip()
    if shown.strip("…") == "":
        return None
    pieces: list[str] = []
    position = 0
    while position < len(shown):
        char = shown[position]
        if char == "…":
            pieces.append(".*?")
            position += 1
            continue
        if char.isspace():
            pieces.append(r"[ \t]+")
            while position < len(shown) and shown[position].isspace():
                position += 1
            continue
        for example, pattern in VARYING:
            found = example.match(shown, position)
            if found:
                pieces.append(pattern)
                position = found.end()
                break
        else:
            pieces.append(re.escape(char))
            position += 1
    return re.compile(rf"^[ \t]*{''.join(pieces)}[ \t]*$", re.MULTILINE)


def check_answers(index: int, block: str, output: str) -> None:
    position = 0
    for line in block.splitlines():
        if not line.startswith("#"):
            continue
        pattern = answer_pattern(line)
        if pattern is None:
            continue
        found = pattern.search(output, position)
        assert found, (
            f"README walk-through block {index + 1}: the answer {line!r} is not what came back "
            f"(after what matched before it):\n{output[position:]}"
        )
        position = found.end()


def test_answer_patterns_stand_for_what_varies() -> None:
    pattern = answer_pattern("# Time:       2026-11-24 20:25 UTC (21:25 Europe/Warsaw)")
    assert pattern is not None
    assert pattern.search("Time:  2027-01-02 09:05 UTC (10:05 Europe/Warsaw)")
    assert not pattern.search("Time:  2027-01-02 09:05 UTC (UTC)")
    code = answer_pattern('# {"code":"042917","created_at":"…"}')
    assert code is not None and code.search('{"code":"913370","created_at":"2026"}')
    assert answer_pattern("# …") is None and answer_pattern("#") is None
    status = answer_pattern("# 204")
    assert status is not None and not status.search("201")
    # Two answers run together on one line (a curl without a final newline) match neither.
    body = answer_pattern('# {"valid":false,"reason":"mismatch"}')
    assert body is not None and body.search('{"valid":false,"reason":"mismatch"}\n')
    assert not body.search('{"valid":false,"reason":"mismatch"}{"valid":true}\n')


def test_the_docs_run_commands_one_way() -> None:
    """`python3 dev.py …` in a checkout, `authsvc …` where installed; never the
    virtualenv's own paths beside them."""
    root = README.parent
    docs = [README, *(root / "docs").rglob("*.md"), *(root / "bench").glob("*.py")]
    for path in docs:
        assert ".venv/bin/" not in path.read_text("utf-8"), path.relative_to(root)


def test_the_quick_selection_is_beside_the_test_command() -> None:
    top = BLOCK.findall(README.read_text("utf-8"))[0]
    commands = [line.split("#")[0].split() for line in top.splitlines()]
    assert ["python3", "dev.py", "test"] in commands
    assert ["python3", "dev.py", "test", "-m", '"not', 'slow"'] in commands
    assert all(re.search(r"~\S+ min", line) for line in top.splitlines() if "dev.py test" in line)
    markers = tomllib.loads((README.parent / "pyproject.toml").read_text())["tool"]["pytest"]
    assert any(marker.startswith("slow:") for marker in markers["ini_options"]["markers"])


@pytest.fixture
def server(server_url: str, tmp_path: Path) -> Iterator[tuple[Authsvc, dict[str, str]]]:
    with scratch_database(server_url) as database_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSVC_")}
        env.update(
            AUTHSVC_DATABASE_URL=database_url,
            AUTHSVC_ENV="dev",  # console delivery and its mailbox, as `dev.py serve` has
            AUTHSVC_DATA_DIR=str(tmp_path / "data"),
            AUTHSVC_SECRET_KEY=TEST_SECRET_KEY,
            # The rules as documented, with a short wait before the resend.
            AUTHSVC_LOGIN_OTP_RESEND_COOLDOWN="2",
            AUTHSVC_ARGON2_MEMORY_KIB="19456",
            AUTHSVC_ARGON2_TIME_COST="2",
            AUTHSVC_LOG_LEVEL="warning",
        )
        api = Authsvc(env, free_port())
        try:
            api.wait_ready()
            yield api, env
        finally:
            api.stop()


def test_the_walkthrough_runs_top_to_bottom_as_written(
    server: tuple[Authsvc, dict[str, str]], tmp_path: Path
) -> None:
    api, server_env = server
    blocks = walkthrough()
    script = ["set -euo pipefail"]
    for index, block in enumerate(blocks):
        block = block.replace("localhost:8000", f"127.0.0.1:{api.port}")
        block = block.replace("python3 dev.py authsvc", f"'{sys.executable}' -m authsvc")
        # Where the previous block's output ends is where the marker starts.
        script += [f"printf '@@ block {index} @@\\n'", block]
    # The commands log as they do for a reader, who has not set AUTHSVC_LOG_LEVEL; the
    # cookie jar goes to the temporary folder.
    env = {k: v for k, v in server_env.items() if k != "AUTHSVC_LOG_LEVEL"}
    env["TMPDIR"] = str(tmp_path)
    checkout = README.parent
    before = set(checkout.iterdir())
    try:
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=checkout,  # as the README says: in the checkout
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"the walk-through took over {TIMEOUT} s:\n{error.output}") from None
    outputs = re.split(r"@@ block \d+ @@\n", done.stdout)[1:]
    assert done.returncode == 0, (
        f"README walk-through block {len(outputs)} failed (exit {done.returncode}):\n"
        f"{blocks[len(outputs) - 1]}\n--- output ---\n{outputs[-1] if outputs else done.stdout}"
    )
    assert len(outputs) == len(blocks)
    for index, (block, output) in enumerate(zip(blocks, outputs, strict=True)):
        check_answers(index, block, output)
        assert output.endswith("\n") or not output, (
            f"README walk-through block {index + 1} leaves the cursor after its output:\n{output}"
        )
    assert not LOG_LINE.search(done.stdout), f"the commands printed log lines:\n{done.stdout}"
    assert set(checkout.iterdir()) == before, "the walk-through left files in the checkout"
    assert (tmp_path / "authsvc-jar").is_file(), "the cookie jar is not in $TMPDIR"
    # The e-mails' times read naturally: UTC, then the local time with its zone.
    assert NATURAL_TIME.search(done.stdout), "no `20:25 UTC (21:25 Europe/Warsaw)` in the e-mails"
