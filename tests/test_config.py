from __future__ import annotations

from pathlib import Path

import pytest

from authsvc.config import ConfigError, Settings, load_settings
from tests.cli import bare_env, run_cli


def test_bad_port_stops_serve_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = run_cli("serve", env=bare_env(tmp_path, AUTHSVC_PORT="abc"))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert "AUTHSVC_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_without_secret_key_is_refused(tmp_path: Path) -> None:
    env = bare_env(tmp_path, AUTHSVC_ENV="prod", AUTHSVC_DATABASE_URL="postgresql+asyncpg://x@h/d")
    result = run_cli("serve", env=env)
    assert result.returncode != 0
    assert "AUTHSVC_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_short_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTHSVC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AUTHSVC_ENV", "prod")
    monkeypatch.setenv("AUTHSVC_DATABASE_URL", "postgresql+asyncpg://db/authsvc")
    monkeypatch.setenv("AUTHSVC_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="AUTHSVC_SECRET_KEY"):
        load_settings()


def test_console_delivery_is_refused_outside_dev(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTHSVC_ENV", "prod")
    monkeypatch.setenv("AUTHSVC_DATABASE_URL", "postgresql+asyncpg://db/authsvc")
    monkeypatch.setenv("AUTHSVC_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("AUTHSVC_SMS_PROVIDER", "console")
    with pytest.raises(ConfigError, match="console"):
        load_settings()


def test_production_needs_the_public_url_for_links_in_e_mails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTHSVC_ENV", "prod")
    monkeypatch.setenv("AUTHSVC_DATABASE_URL", "postgresql+asyncpg://db/authsvc")
    monkeypatch.setenv("AUTHSVC_SECRET_KEY", "p" * 40)
    with pytest.raises(ConfigError, match="AUTHSVC_PUBLIC_URL"):
        load_settings()
    monkeypatch.setenv("AUTHSVC_PUBLIC_URL", "https://auth.example.com/")
    assert load_settings().public_url == "https://auth.example.com"


def test_dev_mode_keeps_a_generated_secret_key_across_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTHSVC_DATA_DIR", str(tmp_path))
    first = load_settings()
    second = load_settings()
    assert first.secret_keys() and first.secret_keys() == second.secret_keys()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_env_defaults_to_dev_on_embedded_and_prod_with_a_database_url() -> None:
    assert Settings().env == "dev"
    assert Settings(database_url="postgresql+asyncpg://db/x").env == "prod"


def test_argon2_defaults_are_rfc_9106s_low_memory_choice_with_one_lane() -> None:
    settings = Settings()
    assert (settings.argon2_memory_kib, settings.argon2_time_cost) == (64 * 1024, 3)
    assert settings.argon2_parallelism == 1


def test_argon2_parameters_below_the_owasp_floor_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHSVC_ARGON2_MEMORY_KIB", "8192")
    with pytest.raises(ConfigError, match="AUTHSVC_ARGON2_MEMORY_KIB"):
        load_settings()


def test_durations_accept_seconds_and_lists_accept_commas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHSVC_LOGIN_OTP_TTL", "300")
    monkeypatch.setenv("AUTHSVC_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("AUTHSVC_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
    settings = Settings()
    assert settings.login_otp_ttl.total_seconds() == 300
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32"]


def test_several_secret_keys_are_split_on_commas() -> None:
    settings = Settings(secret_key="a" * 32 + "," + "b" * 32)
    assert settings.secret_keys() == [b"a" * 32, b"b" * 32]


def test_production_without_a_database_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTHSVC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AUTHSVC_ENV", "prod")
    monkeypatch.setenv("AUTHSVC_SECRET_KEY", "p" * 40)
    with pytest.raises(ConfigError, match="AUTHSVC_DATABASE_URL"):
        load_settings()
