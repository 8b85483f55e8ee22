#!/usr/bin/env python3
"""Bootstrap and run authsvc from a fresh checkout with nothing but Python 3.11+.

    python3 dev.py serve        run the service on the embedded PostgreSQL (dev mode)
    python3 dev.py test         run the test suite (-m "not slow" skips the slow tests)
    python3 dev.py check        ruff, mypy, the import contracts of docs/architecture.md,
                                and whether openapi.yaml still matches the app
    python3 dev.py authsvc ...  any other `authsvc` command (accounts, migrate, ...)
    python3 dev.py alembic ...  Alembic, e.g. `revision -m "what"` for a new migration
    python3 dev.py python ...   the virtualenv's Python, e.g. for bench/*.py

The first run creates `.venv/`. `serve`, `authsvc` and `alembic` install the service with
its `embedded` extra only; `test`, `check` and `python` install the dev tools too (the
first of them after a `serve` adds them). Later runs reinstall only when `pyproject.toml`
changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
# What each command needs installed: the service and its embedded PostgreSQL to run it,
# the dev extra (which has the embedded server too) to test, check and benchmark it.
EXTRAS = {
    "serve": "embedded",
    "authsvc": "embedded",
    "alembic": "embedded",
    "test": "dev",
    "check": "dev",
    "python": "dev",
}
# Which installed extras serve a wanted one: after `test`, `serve` installs nothing.
COVERS = {"embedded": ("embedded", "dev"), "dev": ("dev",)}


def _stamp(extra: str) -> Path:
    """Holds the digest of the pyproject.toml the extra was installed from."""
    return VENV / f".authsvc-installed-{extra}"


def _installed(extra: str, digest: str) -> bool:
    return any(
        _stamp(have).exists() and _stamp(have).read_text() == digest for have in COVERS[extra]
    )


def _ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 is
        sys.exit("authsvc needs Python 3.11 or newer")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if _installed(extra, digest):
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    what = "its dev tools" if extra == "dev" else "the embedded PostgreSQL"
    print(f"installing authsvc and {what} into .venv ...", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    if subprocess.run([*pip, "-e", f"{ROOT}[{extra}]"]).returncode:
        sys.exit("installing into .venv failed (see above)")
    _stamp(extra).write_text(digest)


def _run(*argv: str) -> int:
    return subprocess.run(list(argv), cwd=ROOT).returncode


def _become(*argv: str) -> int:
    """Replace this process with `argv`: signals (Ctrl-C, SIGTERM) reach the service
    itself, and no wrapper is left to outlive it or to print a traceback."""
    if os.name != "posix":
        return _run(*argv)
    os.chdir(ROOT)
    os.execv(argv[0], list(argv))  # noqa: S606 - our own venv binary, no shell


def _openapi_matches() -> int:
    """The committed openapi.yaml is what `authsvc openapi` prints now (the drift check)."""
    generated = subprocess.run(
        [str(BIN / "authsvc"), "openapi"], cwd=ROOT, capture_output=True, text=True
    )
    if generated.returncode:
        print(generated.stderr, file=sys.stderr)
        return generated.returncode
    if generated.stdout != (ROOT / "openapi.yaml").read_text(encoding="utf-8"):
        print(
            "openapi.yaml does not match the app; regenerate it and commit the result:\n"
            "    python3 dev.py authsvc openapi > openapi.yaml",
            file=sys.stderr,
        )
        return 1
    print("openapi.yaml matches the app")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in EXTRAS:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    _ensure_venv(EXTRAS[command])
    if command == "serve":
        return _become(str(BIN / "authsvc"), "serve", *rest)
    if command == "test":
        return _run(str(BIN / "python"), "-m", "pytest", *rest)
    if command == "check":
        for step in (
            [str(BIN / "ruff"), "check", "src", "tests", "migrations", "bench", "dev.py"],
            [str(BIN / "ruff"), "format", "--check", "src", "tests", "migrations", "bench"],
            [str(BIN / "mypy")],
            # The layers of docs/architecture.md (contracts in pyproject.toml).
            [str(BIN / "lint-imports")],
        ):
            if code := _run(*step):
                return code
        return _openapi_matches()
    # authsvc, alembic, python: the virtualenv's own, run in the checkout.
    return _become(str(BIN / command), *rest)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C reached the running tool too; it has said its piece
        sys.exit(130)
