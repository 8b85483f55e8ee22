"""Templates: both locales, the same parameters, escaped HTML, a one-segment OTP SMS."""

from __future__ import annotations

import pytest

from authsvc.delivery import rendering
from tests.delivery.helpers import CONFIRMATION_PARAMS, OTP_PARAMS

# GSM 03.38 basic character set (no escape table): what fits 160 characters per segment.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
CONTRACT = {
    "login_otp": {"code", "expires_minutes"},
    "login_confirmation": {
        "login",
        "time_utc",
        "time_local",
        "ip",
        "user_agent",
        "not_me_url",
        "factor",
    },
    "login_incomplete": {"login", "time_utc", "time_local", "ip"},
    "auth_code_generated": {
        "login",
        "time_utc",
        "time_local",
        "expires_utc",
        "expires_local",
        "ip",
        "not_me_url",
    },
    "attack_notice": {"login", "time_utc", "time_local", "ips"},
    "auth_code_checked": {"login", "time_utc", "time_local", "tool", "purpose"},
    "not_me_done": {"login", "time_utc", "time_local", "ip"},
    "password_changed": {"login", "time_utc", "time_local", "ip"},
    "password_reset_code": {"code", "expires_minutes"},
    "password_reset_done": {"login", "time_utc", "time_local", "ip"},
    "factor_changed": {"login", "change", "time_utc", "time_local", "ip", "not_me_url"},
    "contact_code": {"code", "expires_minutes"},
    "email_changed": {"login", "new_value", "time_utc", "time_local", "ip", "not_me_url"},
    "phone_changed": {"login", "new_value", "time_utc", "time_local", "ip", "not_me_url"},
    "passkey_counter_regressed": {"login", "name", "time_utc", "time_local", "ip"},
    "recovery_code_used": {"login", "time_utc", "time_local", "remaining"},
    "recovery_code_used_low": {"login", "time_utc", "time_local", "remaining"},
}


def sample(template: str) -> dict[str, str]:
    values = {**OTP_PARAMS, **CONFIRMATION_PARAMS}
    values |= {"expires_utc": "2026-11-24 14:05", "expires_local": "2026-11-24 15:05 CET"}
    values |= {"ips": "198.51.100.7, 2001:db8::1", "tool": "helpdesk", "purpose": "ticket #1"}
    values |= {"factor": "aplikacja uwierzytelniająca", "remaining": "10", "name": "n" * 64}
    values |= {"change": "Usunięto aplikację uwierzytelniającą z logowania dwuetapowego."}
    # The longest realistic values, so the length checks hold for real messages.
    values |= {"login": "l" * 64, "ip": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}
    values |= {"new_value": "n" * 64 + "@" + "d" * 60 + ".example.com"}
    return {key: values[key] for key in CONTRACT[template]}


def test_every_template_takes_exactly_the_agreed_parameters() -> None:
    assert rendering.template_names() == set(CONTRACT)
    for name, params in CONTRACT.items():
        assert rendering.template_params(name) == params


@pytest.mark.parametrize("locale", ["pl", "en"])
@pytest.mark.parametrize("template", sorted(CONTRACT))
def test_every_template_renders_an_email_and_an_sms_in_both_locales(
    template: str, locale: str
) -> None:
    params = sample(template)
    mail = rendering.render(template, "email", locale, params)
    assert mail.subject
    assert mail.html is not None
    assert f'<html lang="{locale}">' in mail.html
    for value in params.values():
        assert value in mail.text
    sms = rendering.render(template, "sms", locale, params)
    assert set(sms.text) <= GSM7, "SMS texts avoid characters outside GSM-7"
    assert "$" not in sms.text + mail.text + mail.html


@pytest.mark.parametrize("template", ["login_otp", "password_reset_code", "contact_code"])
@pytest.mark.parametrize("locale", ["pl", "en"])
def test_otp_sms_fits_one_segment(locale: str, template: str) -> None:
    params = {"code": "000000", "expires_minutes": "60"}
    text = rendering.render(template, "sms", locale, params)
    assert len(text.text) <= 160
    assert set(text.text) <= GSM7
    assert "000000" in text.text


def test_locales_really_differ() -> None:
    params = sample("login_otp")
    polish = rendering.render("login_otp", "email", "pl", params)
    english = rendering.render("login_otp", "email", "en", params)
    assert "kod" in polish.text.lower()
    assert "code" in english.text.lower()
    assert polish.subject != english.subject


def test_html_escapes_parameters_and_text_keeps_them() -> None:
    params = {**sample("login_confirmation"), "user_agent": '<script>alert("x")</script>&'}
    mail = rendering.render("login_confirmation", "email", "en", params)
    assert mail.html is not None
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in mail.html
    assert '<script>alert("x")</script>&' in mail.text


def test_authorization_code_notice_never_carries_a_code() -> None:
    assert "code" not in rendering.template_params("auth_code_generated")
