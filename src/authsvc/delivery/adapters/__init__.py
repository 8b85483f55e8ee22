"""Choosing the adapters from settings, and refusing delivery settings that cannot work.

With no provider named: SMTP when AUTHSVC_SMTP_URL is set, the SMS webhook when
AUTHSVC_SMS_WEBHOOK_URL is set, the console in dev mode, and a refusal to start otherwise.
"""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from authsvc.config import ConfigError, Settings
from authsvc.delivery import mailbox
from authsvc.delivery.adapters.base import Adapter, Channel, Outgoing
from authsvc.delivery.adapters.console import ConsoleAdapter
from authsvc.delivery.adapters.sms_webhook import WebhookSmsAdapter
from authsvc.delivery.adapters.smsapi import SmsapiAdapter
from authsvc.delivery.adapters.smtp import SmtpAdapter, SmtpTarget
from authsvc.delivery.adapters.twilio import TwilioAdapter

__all__ = ["Adapter", "Outgoing", "build_adapters", "check_delivery_settings"]

EmailProvider = Literal["smtp", "console"]
SmsProvider = Literal["webhook", "smsapi", "twilio", "console"]
T = TypeVar("T")


def email_provider(settings: Settings) -> EmailProvider:
    if settings.email_provider is not None:
        return settings.email_provider
    if settings.smtp_url is not None:
        return "smtp"
    if settings.is_dev:
        return "console"
    raise ConfigError(
        "AUTHSVC_SMTP_URL: required outside dev mode (e.g. smtp://user:pass@host:587?starttls=true)"
    )


def sms_provider(settings: Settings) -> SmsProvider:
    if settings.sms_provider is not None:
        return settings.sms_provider
    if settings.sms_webhook_url is not None:
        return "webhook"
    if settings.is_dev:
        return "console"
    raise ConfigError("AUTHSVC_SMS_PROVIDER: required outside dev mode (webhook, smsapi or twilio)")


def check_delivery_settings(settings: Settings) -> None:
    """Raise ConfigError naming the variable for any delivery setting that cannot work.

    Building the adapters is that check: they open nothing until started.
    """
    build_adapters(settings)


def build_adapters(settings: Settings) -> dict[Channel, Adapter]:
    """One adapter per channel, as configured (not yet started)."""
    if "@" not in parseaddr(settings.mail_from)[1]:
        raise ConfigError("AUTHSVC_MAIL_FROM: needs an address, e.g. Panel <no-reply@example.com>")
    adapters: dict[Channel, Adapter] = {
        "email": _email_adapter(settings),
        "sms": _sms_adapter(settings),
    }
    if settings.delivery_lease < 2 * settings.sms_timeout:
        raise ConfigError("AUTHSVC_DELIVERY_LEASE: must be at least twice AUTHSVC_SMS_TIMEOUT")
    return adapters


def _email_adapter(settings: Settings) -> Adapter:
    if email_provider(settings) == "smtp":
        return SmtpAdapter(_smtp_target(settings), sender=settings.mail_from)
    return ConsoleAdapter("email", _mailbox_path(settings))


def _sms_adapter(settings: Settings) -> Adapter:
    timeout, connections = settings.sms_timeout.total_seconds(), settings.delivery_concurrency
    provider = sms_provider(settings)
    if provider == "webhook":
        token = settings.sms_webhook_token
        return WebhookSmsAdapter(
            url=_http_url("AUTHSVC_SMS_WEBHOOK_URL", settings.sms_webhook_url, settings),
            token=token.get_secret_value() if token is not None else None,
            timeout=timeout,
            max_connections=connections,
        )
    if provider == "smsapi":
        return SmsapiAdapter(
            url=_http_url("AUTHSVC_SMSAPI_URL", settings.smsapi_url, settings),
            token=_require("AUTHSVC_SMSAPI_TOKEN", settings.smsapi_token).get_secret_value(),
            sender=settings.smsapi_sender,
            timeout=timeout,
            max_connections=connections,
        )
    if provider == "twilio":
        return TwilioAdapter(
            base_url=_http_url("AUTHSVC_TWILIO_BASE_URL", settings.twilio_base_url, settings),
            account_sid=_require("AUTHSVC_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            auth_token=_require(
                "AUTHSVC_TWILIO_AUTH_TOKEN", settings.twilio_auth_token
            ).get_secret_value(),
            sender=_require("AUTHSVC_TWILIO_FROM", settings.twilio_from),
            timeout=timeout,
            max_connections=connections,
        )
    return ConsoleAdapter("sms", _mailbox_path(settings))


def _mailbox_path(settings: Settings) -> Path | None:
    """The dev mailbox file; console delivery exists only in dev mode, and so does it."""
    if not (settings.is_dev and settings.dev_mailbox):
        return None
    return settings.data_dir / mailbox.FILE_NAME


def _smtp_target(settings: Settings) -> SmtpTarget:
    if settings.smtp_url is None:
        raise ConfigError("AUTHSVC_SMTP_URL: required when AUTHSVC_EMAIL_PROVIDER is smtp")
    try:
        target = SmtpTarget.from_url(settings.smtp_url.get_secret_value())
    except ValueError as error:
        raise ConfigError(f"AUTHSVC_SMTP_URL: {error}") from None
    if target.password and not target.encrypted and not _is_loopback(target.host):
        raise ConfigError(
            "AUTHSVC_SMTP_URL: the password would cross the network unencrypted; "
            "use smtps:// or add ?starttls=true"
        )
    if target.cafile is not None and not Path(target.cafile).is_file():
        raise ConfigError("AUTHSVC_SMTP_URL: cafile does not exist")
    return target


def _http_url(variable: str, url: str | None, settings: Settings) -> str:
    checked = _require(variable, url)
    parts = urlsplit(checked)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable}: must be an http:// or https:// URL")
    if parts.scheme == "http" and not settings.is_dev and not _is_loopback(parts.hostname):
        raise ConfigError(f"{variable}: must be https:// outside dev mode")
    return checked


def _require(variable: str, value: T | None) -> T:
    if value is None or value == "":
        raise ConfigError(f"{variable}: required for the chosen provider")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
