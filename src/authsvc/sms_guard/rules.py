"""The SMS budgets, as pure functions of the number, the client address, the clock and
the settings.

Every SMS counts once against each of five budgets of its clock hour (fixed windows, the
same hour for every replica): its number, its prefix (the number without its last 4
digits: the range a pumping attack walks through), its country, the whole service, and
the client address that caused it (an IPv6 client by its /64, which one subscriber holds
whole). Over any of them the code goes by e-mail instead.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from authsvc.accounts.phones import Textable
from authsvc.config import Settings
from authsvc.sms_guard.models import BUDGETS

HOUR = timedelta(hours=1)
SERVICE = "*"  # the subject of the service-wide budget
IPV6_SUBSCRIBER_PREFIX = 64


@dataclass(frozen=True)
class Budget:
    """One budget an SMS counts against: which kind, whose, and how many per hour."""

    budget: str  # one of models.BUDGETS
    subject: str
    allowed: int


def hour_of(now: datetime) -> datetime:
    """The start of the UTC clock hour `now` falls in: the window every replica counts in
    (in UTC, as an offset of half an hour somewhere would move the window)."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def limits(settings: Settings) -> dict[str, int]:
    """Each budget's SMS per hour, by name."""
    return {
        "service": settings.sms_budget_service,
        "country": settings.sms_budget_country,
        "prefix": settings.sms_budget_prefix,
        "number": settings.sms_budget_number,
        "ip": settings.sms_budget_ip,
    }


def ip_subject(ip: str) -> str:
    """Whose budget a client address counts against: an IPv4 address alone, an IPv6 one
    by its /64 (a subscriber is given a whole /64 and can use any address in it)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_SUBSCRIBER_PREFIX), strict=False))
    return str(address)


def budgets_for(number: Textable, ip: str, settings: Settings) -> list[Budget]:
    """The budgets one SMS to `number`, caused by a client at `ip`, counts against, in the
    order of models.BUDGETS."""
    subjects = {
        "service": SERVICE,
        "country": number.country,
        "prefix": number.prefix,
        "number": number.e164,
        "ip": ip_subject(ip),
    }
    allowed = limits(settings)
    return [Budget(name, subjects[name], allowed[name]) for name in BUDGETS]
