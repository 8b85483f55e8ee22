"""requirements.lock, what the Docker image installs with `--require-hashes`, pins every
runtime dependency of pyproject.toml within its range, each with the hashes of its files.

That the lock is complete (every dependency of a dependency, `pip check`) is proven by
installing it as the image does: `.ci/audit`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _locked() -> dict[str, tuple[str, list[str]]]:
    """Each pinned package: its version and the hashes that follow its line."""
    locked: dict[str, tuple[str, list[str]]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if pin := PIN.match(line):
            name = canonicalize_name(pin[1])
            locked[name] = (pin[2], [])
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            locked[name][1].append(line.strip().split(":", 1)[1].rstrip(" \\"))
    return locked


def _runtime_dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    locked = _locked()
    for requirement in _runtime_dependencies():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements.lock (run .ci/lock)"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement} (run .ci/lock)"
        )


def test_every_pin_carries_the_hashes_of_its_files() -> None:
    locked = _locked()
    assert len(locked) >= len(_runtime_dependencies())
    for name, (_, hashes) in locked.items():
        assert hashes, f"{name} has no --hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes), name


def test_the_lock_holds_no_development_tool() -> None:
    """The dev extra (pytest, the embedded PostgreSQL, ...) stays out of the image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(r.name) for r in _runtime_dependencies()}
    dev_only = {
        canonicalize_name(Requirement(text).name)
        for text in project["optional-dependencies"]["dev"]
    } - runtime
    assert dev_only and not dev_only & set(_locked())
