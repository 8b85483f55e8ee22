"""Delivery settings: defaults by mode, and refusals that name the variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from authsvc.config import ConfigError, Settings
from authsvc.delivery.adapters import (
    build_adapters,
    check_delivery_settings,
    email_provider,
    sms_provider,
)
from authsvc.delivery.adapters.console import ConsoleAdapter
from authsvc.delivery.adapters.sms_webhook import WebhookSmsAdapter
from authsvc.delivery.adapters.smsapi import SmsapiAdapter
from authsvc.delivery.adapters.smtp import SmtpAdapter
from authsvc.delivery.adapters.twilio import TwilioAdapter
from authsvc.startup import startup_settings
from tests.cli import bare_env, run_cli

KEY = SecretStr("p" * 40)
SMTP = SecretStr("smtp://user:pass@mail.example.com:587?starttls=true")


DATABASE = SecretStr("postgresql+asyncpg://authsvc@db.example.com/authsvc")


def prod(**values: object) -> Settings:
    return Settings(env="prod", secret_key=KEY, database_url=DATABASE, **values)  # type: ignore[arg-type]


def test_dev_mode_without_providers_prints_to_the_console() -> None:
    settings = Settings(env="dev")
    assert (email_provider(settings), sms_provider(settings)) == ("console", "console")
    adapters = build_adapters(settings)
    assert isinstance(adapters["email"], ConsoleAdapter)
    assert isinstance(adapters["sms"], ConsoleAdapter)


def test_urls_alone_choose_smtp_and_the_webhook() -> None:
    settings = prod(smtp_url=SMTP, sms_webhook_url="https://sms.example.com/send")
    adapters = build_adapters(settings)
    assert isinstance(adapters["email"], SmtpAdapter)
    assert isinstance(adapters["sms"], WebhookSmsAdapter)


def test_named_providers_are_built() -> None:
    smsapi = prod(smtp_url=SMTP, sms_provider="smsapi", smsapi_token=SecretStr("t"))
    assert isinstance(build_adapters(smsapi)["sms"], SmsapiAdapter)
    twilio = prod(
        smtp_url=SMTP,
        sms_provider="twilio",
        twilio_account_sid="AC1",
        twilio_auth_token=SecretStr("t"),
        twilio_from="+48221234567",
    )
    assert isinstance(build_adapters(twilio)["sms"], TwilioAdapter)


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({}, "AUTHSVC_SMTP_URL"),
        ({"smtp_url": SMTP}, "AUTHSVC_SMS_PROVIDER"),
        ({"smtp_url": SecretStr("smtp://u:p@mail.example.com:587")}, "AUTHSVC_SMTP_URL"),
        ({"smtp_url": SecretStr("imap://mail.example.com")}, "AUTHSVC_SMTP_URL"),
        ({"email_provider": "smtp"}, "AUTHSVC_SMTP_URL"),
        ({"smtp_url": SMTP, "mail_from": "nobody"}, "AUTHSVC_MAIL_FROM"),
        ({"smtp_url": SMTP, "sms_provider": "webhook"}, "AUTHSVC_SMS_WEBHOOK_URL"),
        (
            {"smtp_url": SMTP, "sms_webhook_url": "http://sms.example.com/send"},
            "AUTHSVC_SMS_WEBHOOK_URL",
        ),
        ({"smtp_url": SMTP, "sms_provider": "smsapi"}, "AUTHSVC_SMSAPI_TOKEN"),
        (
            {"smtp_url": SMTP, "sms_provider": "twilio", "twilio_auth_token": SecretStr("t")},
            "AUTHSVC_TWILIO_ACCOUNT_SID",
        ),
        (
            {
                "smtp_url": SMTP,
                "sms_webhook_url": "https://sms.example.com",
                "sms_timeout": timedelta(seconds=30),
                "delivery_lease": timedelta(seconds=40),
            },
            "AUTHSVC_DELIVERY_LEASE",
        ),
    ],
)
def test_production_refuses_delivery_that_cannot_work(
    values: dict[str, object], variable: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        check_delivery_settings(prod(**values))


def test_production_accepts_a_complete_setup() -> None:
    check_delivery_settings(prod(smtp_url=SMTP, sms_webhook_url="https://sms.example.com/send"))


def test_a_password_may_go_in_clear_only_to_a_local_relay() -> None:
    local = SecretStr("smtp://user:pass@127.0.0.1:25")
    check_delivery_settings(prod(smtp_url=local, sms_webhook_url="https://sms.example.com"))


def test_loading_settings_reports_the_delivery_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTHSVC_ENV", "prod")
    monkeypatch.setenv("AUTHSVC_DATABASE_URL", DATABASE.get_secret_value())
    monkeypatch.setenv("AUTHSVC_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("AUTHSVC_SMTP_URL", str(SMTP.get_secret_value()))
    monkeypatch.setenv("AUTHSVC_PUBLIC_URL", "https://auth.example.com")
    with pytest.raises(ConfigError, match="AUTHSVC_SMS_PROVIDER"):
        startup_settings()


def test_worker_command_refuses_missing_delivery_settings_in_one_line(tmp_path: Path) -> None:
    env = bare_env(
        tmp_path,
        AUTHSVC_ENV="prod",
        AUTHSVC_SECRET_KEY="p" * 40,
        AUTHSVC_DATABASE_URL="postgresql+asyncpg://x@127.0.0.1:1/d",
        AUTHSVC_PUBLIC_URL="https://auth.example.com",
    )
    result = run_cli("worker", env=env)
    assert result.returncode == 2
    assert "AUTHSVC_SMTP_URL" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "url",
    ["smtp://user:hunter2@mail.example.com:587", "smtp://user:hunter2@mail.example.com?tls=1"],
)
def test_smtp_url_errors_never_repeat_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="AUTHSVC_SMTP_URL") as refused:
        check_delivery_settings(prod(smtp_url=SecretStr(url)))
    assert "hunter2" not in str(refused.value)
