"""Message templates (templates/<locale>.toml) and their rendering.

Placeholders are `$name` (string.Template). Values arrive as preformatted strings; the
HTML part gets them escaped. Each template declares its parameters by using them, and
both locales must use the same set, so a caller's mistake fails at enqueue, not later in
the worker.
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Literal

Channel = Literal["email", "sms"]
LOCALES = ("pl", "en")
EMAIL_PARTS = ("subject", "text", "html")
SMS_PARTS = ("sms",)


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str | None = None  # e-mail only
    html: str | None = None  # e-mail only


@dataclass(frozen=True)
class _Parts:
    parts: Mapping[str, Template]
    params: frozenset[str]


@cache
def _catalogue() -> dict[tuple[str, str], _Parts]:
    folder = resources.files("authsvc.delivery") / "templates"
    catalogue: dict[tuple[str, str], _Parts] = {}
    for locale in LOCALES:
        for name, raw in tomllib.loads((folder / f"{locale}.toml").read_text("utf-8")).items():
            parts = {part: Template(str(raw[part]).strip()) for part in EMAIL_PARTS + SMS_PARTS}
            params = frozenset(name for t in parts.values() for name in t.get_identifiers())
            catalogue[locale, name] = _Parts(parts, params)
    names = {name for _, name in catalogue}
    for name in names:
        declared = {catalogue[locale, name].params for locale in LOCALES}
        if len(declared) != 1:
            raise RuntimeError(f"template {name!r} uses different parameters per locale")
    return catalogue


@cache
def _layout() -> Template:
    folder = resources.files("authsvc.delivery") / "templates"
    return Template((folder / "layout.html").read_text("utf-8"))


def template_names() -> frozenset[str]:
    return frozenset(name for _, name in _catalogue())


def template_params(template: str) -> frozenset[str]:
    """The parameters a template takes (the same in every locale)."""
    return _lookup(template, "en").params


def _lookup(template: str, locale: str) -> _Parts:
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    found = _catalogue().get((locale, template))
    if found is None:
        raise ValueError(f"unknown template {template!r}")
    return found


def check(template: str, locale: str, params: Mapping[str, str]) -> None:
    """Refuse an unknown template or locale and missing, unexpected or non-text parameters."""
    expected = _lookup(template, locale).params
    given = set(params)
    if given != expected:
        missing, extra = sorted(expected - given), sorted(given - expected)
        raise ValueError(f"template {template!r}: missing {missing}, unexpected {extra}")
    if not all(isinstance(value, str) for value in params.values()):
        raise ValueError(f"template {template!r}: parameter values must be strings")


def render(template: str, channel: Channel, locale: str, params: Mapping[str, str]) -> Rendered:
    check(template, locale, params)
    parts = _lookup(template, locale).parts
    if channel == "sms":
        return Rendered(text=parts["sms"].substitute(params))
    subject = parts["subject"].substitute(params)
    escaped = {key: html.escape(value) for key, value in params.items()}
    body = parts["html"].substitute(escaped)
    page = _layout().substitute(lang=locale, title=html.escape(subject), body=body)
    return Rendered(text=parts["text"].substitute(params) + "\n", subject=subject, html=page)
