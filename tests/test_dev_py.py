"""dev.py installs what a command needs, once: the service to serve it, the dev tools to
test it. pip is stood in for by a script that notes its arguments (a real subprocess),
so the test sees what would be installed without installing anything."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the stand-in pip is a sh script")


def load_dev_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_py_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """dev.py on a checkout of its own, whose `.venv/bin/python` notes its arguments."""
    module = load_dev_py()
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text("version 1\n")
    venv = checkout / ".venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path / "calls"}"\n')
    python.chmod(0o755)
    monkeypatch.setattr(module, "ROOT", checkout)
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "BIN", venv / "bin")
    return module


def installs(dev: ModuleType, command: str, calls: Path) -> list[str]:
    """What `python3 dev.py <command>` installs before it runs (`-e` targets)."""
    before = calls.read_text().splitlines() if calls.exists() else []
    dev._ensure_venv(dev.EXTRAS[command])
    after = calls.read_text().splitlines() if calls.exists() else []
    return [line.split(" -e ")[1] for line in after[len(before) :] if " -e " in line]


def test_serve_installs_the_service_alone_and_test_adds_the_dev_tools_once(
    dev: ModuleType, tmp_path: Path
) -> None:
    calls, checkout = tmp_path / "calls", tmp_path / "checkout"
    assert installs(dev, "serve", calls) == [f"{checkout}[embedded]"]
    assert installs(dev, "authsvc", calls) == []
    assert installs(dev, "test", calls) == [f"{checkout}[dev]"]  # a serve's venv grows
    assert installs(dev, "check", calls) == []
    assert installs(dev, "serve", calls) == []  # the dev tools include the embedded server
    assert installs(dev, "python", calls) == []

    (checkout / "pyproject.toml").write_text("version 2\n")
    assert installs(dev, "serve", calls) == [f"{checkout}[embedded]"]
    assert installs(dev, "test", calls) == [f"{checkout}[dev]"]
    assert installs(dev, "serve", calls) == []


def test_test_first_then_serve_installs_once(dev: ModuleType, tmp_path: Path) -> None:
    calls, checkout = tmp_path / "calls", tmp_path / "checkout"
    assert installs(dev, "test", calls) == [f"{checkout}[dev]"]
    assert installs(dev, "serve", calls) == []
    assert installs(dev, "alembic", calls) == []


def test_every_command_has_its_extra_and_the_dev_extra_holds_the_embedded_one() -> None:
    dev = load_dev_py()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(dev.EXTRAS.values()) <= set(extras)
    for wanted, served_by in dev.COVERS.items():
        for extra in served_by:
            assert set(extras[wanted]) <= set(extras[extra]), f"{extra} lacks {wanted}'s"
    # Serving needs no test tool.
    assert not {"pytest", "mypy", "playwright"} & {
        requirement.split(">")[0].split("=")[0] for requirement in extras["embedded"]
    }
    documented = (dev.__doc__ or "").split()
    for command in dev.EXTRAS:
        assert command in documented, f"dev.py's docstring does not name {command}"
