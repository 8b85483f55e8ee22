"""The page behind the "this wasn't me" link of an e-mail.

GET only shows what the link would do, with a button: mail scanners and link previews
follow links, and must not sign anybody out. The button POSTs to the same address; the
token in the path is the only credential. Rendered here (not a static page) because the
answer depends on the link; every value in it is ours, never the request's.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from authsvc.links import service as links
from authsvc.login.endpoints import client_of
from authsvc.pages.routes import page_headers
from authsvc.protection import service
from authsvc.protection.errors import LinkUnusable
from authsvc.web.client_ip import ClientIP
from authsvc.web.dependencies import Context, Session
from authsvc.web.openapi_docs import DATABASE, PARAMETERS, PUBLIC, html_page, problems

router = APIRouter(tags=["account protection"])

_TEXT = {
    "en": {
        "title": "This wasn't me",
        "usable": "If you did not sign in or generate an authorization code as the e-mail "
        "says, secure your account: every session will be signed out, the authorization "
        "code revoked, and a new password required before the next sign-in.",
        "button": "Secure my account",
        "done": "Your account is secured: every session was signed out and the "
        "authorization code revoked. To sign in again, set a new password with "
        '"Forgot your password?" on the sign-in page. We sent you an e-mail about it.',
        "used": "This link was already used; the account was secured then.",
        "expired": "This link has expired (links work for 7 days). If you are worried, "
        "reset your password.",
        "unknown": "This link is not valid. Check that it was copied whole.",
        "panel": "Go to the sign-in page",
    },
    "pl": {
        "title": "To nie ja",
        "usable": "Jeśli to nie Ty zalogowałeś(-aś) się lub wygenerowałeś(-aś) kod "
        "autoryzacyjny, o którym mówi e-mail, zabezpiecz konto: wylogujemy wszystkie sesje, "
        "unieważnimy kod autoryzacyjny i przed następnym logowaniem poprosimy o nowe hasło.",
        "button": "Zabezpiecz moje konto",
        "done": "Konto jest zabezpieczone: wszystkie sesje wylogowano, a kod autoryzacyjny "
        "unieważniono. Aby zalogować się ponownie, ustaw nowe hasło opcją „Nie pamiętasz "
        "hasła?” na stronie logowania. Wysłaliśmy Ci o tym e-mail.",
        "used": "Ten link został już użyty; konto zostało wtedy zabezpieczone.",
        "expired": "Ten link wygasł (linki działają 7 dni). Jeśli się niepokoisz, zresetuj hasło.",
        "unknown": "Ten link jest nieprawidłowy. Sprawdź, czy skopiowano go w całości.",
        "panel": "Przejdź do strony logowania",
    },
}
_STATUS = {"usable": 200, "done": 200, "used": 410, "expired": 410, "unknown": 404}


def _language(request: Request) -> str:
    preferred = request.headers.get("accept-language", "").lower()
    return "pl" if preferred.startswith("pl") else "en"


def _page(request: Request, state: str) -> HTMLResponse:
    lang = _language(request)
    text = _TEXT[lang]
    if state == "usable":
        # The form posts to this very address (form-action 'self').
        action = html.escape(request.url.path)
        body = (
            f"<p>{html.escape(text['usable'])}</p>"
            f'<form method="post" action="{action}">'
            f'<button type="submit" class="primary">{html.escape(text["button"])}</button></form>'
        )
    else:
        body = f"<p>{html.escape(text[state])}</p>"
    body += f'<p><a href="/panel/">{html.escape(text["panel"])}</a></p>'
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f'<title>{html.escape(text["title"])}</title><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/assets/style.css"></head>'
        f'<body><main class="card"><h1>{html.escape(text["title"])}</h1>{body}</main>'
        "</body></html>"
    )
    return HTMLResponse(page, status_code=_STATUS[state], headers=page_headers())


# A page for a person, in the document because it acts on the account: the token in the
# path is its only credential.
_PAGES = {
    404: html_page("The link is not valid"),
    410: html_page("The link was used or has expired"),
    **problems(*PARAMETERS, *DATABASE),
}


@router.get(
    f"{links.PATH}{{token}}",
    response_class=HTMLResponse,
    operation_id="showNotMePage",
    summary='The "this wasn\'t me" page of an e-mail link: shows a button, changes nothing',
    openapi_extra=PUBLIC,
    responses={200: html_page("The page, with its button"), **_PAGES},
)
async def not_me_page(token: str, request: Request, ctx: Context, session: Session) -> HTMLResponse:
    return _page(request, await service.link_state(session, ctx, token))


@router.post(
    f"{links.PATH}{{token}}",
    response_class=HTMLResponse,
    operation_id="confirmNotMe",
    summary="Secure the account: end every session, revoke the code, require a new password",
    openapi_extra=PUBLIC,
    responses={200: html_page("The account is secured"), **_PAGES},
)
async def not_me_confirm(
    token: str, request: Request, ctx: Context, session: Session, ip: ClientIP
) -> HTMLResponse:
    try:
        await service.disown(session, ctx, token=token, client=client_of(request, ip, ctx))
    except LinkUnusable as unusable:
        return _page(request, unusable.state)
    return _page(request, "done")
