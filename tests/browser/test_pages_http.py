"""The pages over HTTP, without a browser: headers, the switch, the files themselves, CSRF."""

from __future__ import annotations

import re

import httpx
import pytest

from authsvc.app import create_app
from authsvc.config import Settings
from authsvc.pages import STATIC_DIR
from tests.conftest import make_settings

PAGES = ["/panel/", "/panel/code.html", "/panel/factors.html", "/support/"]
ASSETS = [
    "/assets/api.js",
    "/assets/i18n.js",
    "/assets/ui.js",
    "/assets/webauthn.js",
    "/assets/style.css",
]


def asgi_client(settings: Settings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def test_pages_and_assets_carry_a_strict_csp_and_no_store() -> None:
    async with asgi_client(make_settings()) as http:
        for path in PAGES + ASSETS:
            response = await http.get(path)
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            for directive in (
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "connect-src 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
            ):
                assert directive in csp, (path, directive)
            assert "unsafe" not in csp
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
        # Module scripts need a JavaScript type (nosniff is on).
        assert (
            (await http.get("/assets/api.js")).headers["content-type"].startswith("text/javascript")
        )
        # /panel without the slash leads to the page; unknown files are a plain 404.
        assert (await http.get("/panel")).headers["location"].endswith("/panel/")
        assert (await http.get("/panel/nothing.js")).status_code == 404


async def test_panel_disabled_serves_no_pages_but_the_api_stays() -> None:
    async with asgi_client(make_settings(panel_enabled=False)) as http:
        for path in ["/panel/", "/support/", "/assets/api.js"]:
            assert (await http.get(path)).status_code == 404
        assert (await http.get("/healthz")).status_code == 200


def _files(suffix: str) -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(STATIC_DIR)), path.read_text())
        for path in sorted(STATIC_DIR.rglob(f"*{suffix}"))
    ]


@pytest.mark.parametrize(("name", "html"), _files(".html"))
def test_html_has_no_inline_code_or_styles(name: str, html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    # Without the script a form must not put the password into a URL.
    for form in re.findall(r"<form[^>]*>", html):
        assert 'method="post"' in form
    for field in re.findall(r'<input[^>]*id="([^"]+)"', html):
        assert f'for="{field}"' in html, f"input #{field} has no label"


@pytest.mark.parametrize(("name", "text"), _files(".html") + _files(".js") + _files(".css"))
def test_nothing_is_loaded_from_elsewhere(name: str, text: str) -> None:
    assert not re.search(r"(src|href)=\"(https?:)?//", text)
    assert "@import" not in text
    assert not re.search(r"url\((['\"]?)(https?:)?//", text)
    # The session is the API's HttpOnly cookie; pages never touch cookies or store a token.
    assert "document.cookie" not in text
    if name.startswith("support"):
        assert "localStorage." not in text  # the support key: this tab only


async def test_the_services_own_origin_passes_the_csrf_rule_and_others_do_not(
    client: httpx.AsyncClient,
) -> None:
    # make_settings: dev mode, so the public URL defaults to http://127.0.0.1:8000.
    for origin, status in [
        ("http://127.0.0.1:8000", 401),  # past the origin check, then the session is unknown
        ("http://localhost:8000", 401),
        ("http://127.0.0.1:8001", 403),
        ("https://evil.example", 403),
    ]:
        headers = {"Origin": origin, "Cookie": "authsvc_session=not-a-session"}
        response = await client.post("/logout", headers=headers)
        assert response.status_code == status, origin


def test_public_url_sets_the_own_origin() -> None:
    settings = make_settings(env="prod", public_url="https://auth.example.com/")
    assert settings.public_url == "https://auth.example.com"
    assert settings.own_origins == ["https://auth.example.com"]
    assert "https://auth.example.com" in settings.csrf_origins
    wildcard = make_settings(host="0.0.0.0", port=9000)  # noqa: S104
    assert wildcard.public_url == "http://127.0.0.1:9000"
    assert Settings(env="prod", database_url="postgresql+asyncpg://x/y").own_origins == []


def _texts(lang: str) -> list[str]:
    """The keys of one language's texts in i18n.js, in order (duplicates kept)."""
    source = (STATIC_DIR / "common" / "i18n.js").read_text()
    body = source.split(f"\n  {lang}: {{\n", 1)[1].split("\n  },\n", 1)[0]
    return re.findall(r'^\s+"([^"]+)":', body, re.MULTILINE)


def test_every_text_is_in_polish_and_english_and_every_key_used_exists() -> None:
    polish, english = _texts("pl"), _texts("en")
    assert len(polish) > 100  # the parse found the texts
    assert len(set(polish)) == len(polish), "a Polish key twice"
    assert len(set(english)) == len(english), "an English key twice"
    assert set(polish) == set(english), set(polish) ^ set(english)
    used: set[str] = set()
    for name, text in _files(".html") + _files(".js"):
        if name.endswith("i18n.js"):
            continue
        used |= set(re.findall(r'data-i18n="([^"]+)"', text))
        if name.endswith(".js"):
            # Keys passed to setText, showError, showStatus, t (dotted literals).
            used |= set(re.findall(r'"([a-z]+(?:\.[a-z_0-9]+)+)"', text))
    assert "passkey.sign_in" in used
    assert used <= set(polish), sorted(used - set(polish))
