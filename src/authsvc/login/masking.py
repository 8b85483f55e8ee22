"""Destinations shown to the SPA: enough to recognise, not enough to harvest."""

from __future__ import annotations

import phonenumbers


def mask_email(email: str) -> str:
    """`jan@example.com` → `j***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    """`+48601234789` → `+48 *** *** 789`."""
    try:
        country = phonenumbers.parse(phone, None).country_code
    except phonenumbers.NumberParseException:
        return "*** *** " + phone[-3:]
    return f"+{country} *** *** {phone[-3:]}"


def mask_destination(channel: str, *, email: str, phone: str | None) -> str:
    if channel == "sms" and phone:
        return mask_phone(phone)
    return mask_email(email)
