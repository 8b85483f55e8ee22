"""docs/configuration.md's reference is generated from `Settings` and cannot drift from it:
a setting missing from the page, documented but gone, or with another type or default
fails here, as does a variable named anywhere in the docs or deploy/ that is no setting."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

from authsvc.config import Settings
from authsvc.ops.config_reference import (
    BEGIN,
    END,
    REGENERATE,
    config_reference,
    duration,
    generated_part,
    kind,
)
from tests.cli import bare_env, run_cli
from tests.docs import ROOT, repository_files

CONFIGURATION = ROOT / "docs" / "configuration.md"
VARIABLE = re.compile(r"AUTHSVC_[A-Z0-9_]+")
# Read by the test suite, not by the service (docs/development.md).
TEST_ONLY = ("AUTHSVC_TEST_",)


def variables() -> set[str]:
    return {f"AUTHSVC_{name.upper()}" for name in Settings.model_fields}


def test_every_setting_says_what_it_means() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description.split()) >= 3, (
            f"AUTHSVC_{name.upper()} needs a docstring under it in src/authsvc/config.py"
        )


def test_the_committed_reference_is_what_config_reference_prints(tmp_path: Path) -> None:
    # The reference describes the code: the environment, even a wrong value in it, is not
    # read.
    printed = run_cli("config-reference", env=bare_env(tmp_path, AUTHSVC_PORT="abc"))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == config_reference()
    assert generated_part(CONFIGURATION.read_text("utf-8")) == printed.stdout, (
        f"docs/configuration.md's reference differs from the settings; run `{REGENERATE}`"
    )


def test_the_reference_has_one_row_per_setting_and_no_other() -> None:
    rows = re.findall(r"^\| `(AUTHSVC_[A-Z0-9_]+)` \|", config_reference(), re.MULTILINE)
    assert sorted(rows) == sorted(variables())


def test_a_setting_gone_or_undocumented_fails_the_comparison() -> None:
    document = CONFIGURATION.read_text("utf-8")
    without_a_row = re.sub(r"^\| `AUTHSVC_PORT` .*\n", "", document, flags=re.MULTILINE)
    assert generated_part(without_a_row) != config_reference()
    row = "| `AUTHSVC_GONE` | integer | `1` | No longer read. |\n"
    with_a_gone_one = document.replace(END, row + END)
    assert generated_part(with_a_gone_one) != config_reference()


def test_every_variable_the_docs_and_deploy_name_is_a_setting() -> None:
    """A renamed or dropped setting left in prose, a manifest or the image is ignored by
    the service (extra variables are), so it would fail silently there."""
    known = variables()
    files = repository_files(".md", ".yaml", ".yml", ".json", ".toml", ".ini")
    files += [ROOT / "Dockerfile", *(ROOT / ".ci").iterdir()]
    for path in files:
        for name in set(VARIABLE.findall(path.read_text("utf-8"))):
            if name.endswith("_") or name.startswith(TEST_ONLY):  # a prefix, as in `_TIME_COST`
                continue
            assert name in known, f"{path.relative_to(ROOT)} names {name}, which is no setting"


def test_types_and_defaults_read_as_words() -> None:
    fields = Settings.model_fields
    assert kind("login_otp_ttl", fields["login_otp_ttl"]) == "duration"
    assert kind("port", fields["port"]) == "integer 1–65535"
    assert kind("login_otp_max_attempts", fields["login_otp_max_attempts"]) == "integer ≥ 1"
    assert kind("log_format", fields["log_format"]) == "one of `json`, `text`"
    assert kind("metrics_token", fields["metrics_token"]) == "secret"
    assert kind("trusted_proxies", fields["trusted_proxies"]) == "comma-separated networks"
    assert duration(timedelta(minutes=10)) == "`600` (10 min)"
    assert duration(timedelta(days=365)) == "`31536000` (365 d)"
    assert duration(timedelta(seconds=90)) == "`90` s"
    assert duration(timedelta(0)) == "`0`"
    # The data folder's default is the same words on every machine.
    assert "platformdirs" in config_reference()
    assert str(Path.home()) not in config_reference()


def test_update_writes_the_reference_between_the_markers(tmp_path: Path) -> None:
    document = tmp_path / "configuration.md"
    document.write_text(f"# Intro\n\n{BEGIN}\nstale\n{END}\n\n## After\n", encoding="utf-8")
    env = bare_env(tmp_path)
    updated = run_cli("config-reference", "--update", str(document), env=env)
    assert updated.returncode == 0, updated.stderr
    text = document.read_text("utf-8")
    assert text.startswith("# Intro\n\n") and text.endswith(f"{END}\n\n## After\n")
    assert "stale" not in text and generated_part(text) == config_reference()
    again = run_cli("config-reference", "--update", str(document), env=env)
    assert "up to date" in again.stdout and document.read_text("utf-8") == text


def test_update_refuses_a_file_without_markers_in_one_line(tmp_path: Path) -> None:
    document = tmp_path / "configuration.md"
    shutil.copy(ROOT / "README.md", document)
    before = document.read_text("utf-8")
    refused = run_cli("config-reference", "--update", str(document), env=bare_env(tmp_path))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "markers" in refused.stderr, refused.stderr
    assert document.read_text("utf-8") == before
