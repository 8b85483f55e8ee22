"""CHANGELOG.md keeps to Keep a Changelog 1.1.0 with semantic versions, and its newest
release is the version the package carries and `authsvc --version` prints."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import authsvc
from tests.cli import bare_env, run_cli
from tests.docs import ROOT

CHANGELOG = ROOT / "CHANGELOG.md"
RELEASE = re.compile(r"^## \[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})$")
KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def releases() -> list[tuple[tuple[int, int, int], date]]:
    found = []
    for line in CHANGELOG.read_text("utf-8").splitlines():
        if line.startswith("## ") and line != "## [Unreleased]":
            match = RELEASE.match(line)
            assert match, f"CHANGELOG.md: {line!r} is not `## [X.Y.Z] - YYYY-MM-DD`"
            major, minor, patch, day = match.groups()
            found.append(((int(major), int(minor), int(patch)), date.fromisoformat(day)))
    return found


def package_version() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return str(project["version"])


def test_the_newest_release_is_the_package_version(tmp_path: Path) -> None:
    newest = ".".join(str(part) for part in releases()[0][0])
    assert newest == package_version(), (
        f"CHANGELOG.md's newest release is {newest}, pyproject.toml says {package_version()}"
    )
    # What is installed, too: a stale virtualenv reinstalls with `python3 dev.py test`.
    assert authsvc.__version__ == package_version()
    printed = run_cli("--version", env=bare_env(tmp_path))
    assert (printed.returncode, printed.stdout) == (0, f"authsvc {package_version()}\n")


def test_releases_run_newest_first_each_once() -> None:
    found = releases()
    assert len(found) >= 2
    versions = [version for version, _ in found]
    days = [day for _, day in found]
    assert versions == sorted(set(versions), reverse=True), versions
    assert days == sorted(days, reverse=True), days


def test_the_layout_is_keep_a_changelogs() -> None:
    lines = CHANGELOG.read_text("utf-8").splitlines()
    headings = [line for line in lines if line.startswith("#")]
    assert headings[0] == "# Changelog"
    assert headings[1] == "## [Unreleased]", "the first section gathers what is not released"
    for heading in headings[2:]:
        if heading.startswith("### "):
            assert heading[4:] in KINDS, f"CHANGELOG.md: {heading!r} is not one of {KINDS}"
        else:
            assert heading.startswith("## ["), f"CHANGELOG.md: unexpected heading {heading!r}"
    assert "keepachangelog.com/en/1.1.0" in "\n".join(lines[:8])


def test_security_md_supports_the_current_minor_version() -> None:
    major, minor, _ = package_version().split(".")
    supported = f"| {major}.{minor}.x (the latest minor) | yes |"
    assert supported in (ROOT / "SECURITY.md").read_text("utf-8"), (
        f"SECURITY.md's table of supported versions should start with {supported!r}"
    )


def test_the_kubernetes_manifests_deploy_the_current_version() -> None:
    kustomization = (ROOT / "deploy" / "kubernetes" / "kustomization.yaml").read_text("utf-8")
    assert f'newTag: "{package_version()}"' in kustomization, (
        "deploy/kubernetes/kustomization.yaml's image tag should be the package version"
    )
