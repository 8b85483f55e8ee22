"""Any phone string a client sends gets a clear 422, never a 500.

No route of this branch takes a phone number yet (`POST /account/phone` comes with the
contact-change issue), so the route here is the smallest one that does what it will: the
body's field typed as `Text` and checked by `accounts.phones.textable`, on the real app with
its real problem handlers and middleware.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel, Field

from authsvc.accounts import phones
from authsvc.app import create_app
from authsvc.context import ServiceContext
from authsvc.web.dependencies import Context
from authsvc.web.text import Text


class PhoneBody(BaseModel):
    phone: Text = Field(min_length=1, max_length=64)


def phone_client(ctx: ServiceContext) -> httpx.AsyncClient:
    app = create_app(ctx=ctx)

    async def check(body: PhoneBody, ctx: Context) -> dict[str, str]:
        return {"phone": phones.textable(body.phone, ctx.settings.sms_countries).e164}

    app.add_api_route("/phone-check", check, methods=["POST"])
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    return httpx.AsyncClient(transport=transport, base_url="https://authsvc.test")


@pytest.mark.parametrize(
    ("phone", "code", "reason"),
    [
        ("+48 601 ABC DEF", "invalid_phone", "invalid"),  # letters
        ("phone number", "invalid_phone", "invalid"),
        ("4" * 40, "invalid_phone", "invalid"),  # 40 digits
        ("+" + "4" * 40, "invalid_phone", "invalid"),
        ("+", "invalid_phone", "invalid"),  # a lone +
        ("٠١٢", "invalid_phone", "invalid"),  # Unicode digits
        ("+٠١٢", "invalid_phone", "invalid"),
        ("   ", "invalid_phone", "invalid"),  # spaces
        ("+48 22 123 45 67", "invalid_phone", "not_mobile"),  # a fixed line
        ("+48 700 123 456", "invalid_phone", "not_mobile"),  # premium rate
        ("+1 212 555 0100", "invalid_phone", "country_not_allowed"),
        ("+44 7400 123456", "invalid_phone", "country_not_allowed"),
        ("+48601234567\u0000", "invalid_request", None),  # a control character
        ("+48601234567\n", "invalid_request", None),
        ("+4" + "8" * 100, "invalid_request", None),  # over the field's length
        ("", "invalid_request", None),
    ],
)
async def test_a_hostile_phone_string_is_a_clear_422(
    ctx: ServiceContext, phone: str, code: str, reason: str | None
) -> None:
    async with phone_client(ctx) as client:
        response = await client.post("/phone-check", json={"phone": phone})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body.get("reason") == reason
    assert "Traceback" not in response.text


async def test_a_lone_surrogate_and_a_non_string_are_422_too(ctx: ServiceContext) -> None:
    async with phone_client(ctx) as client:
        surrogate = await client.post(
            "/phone-check",
            content=b'{"phone": "+48601\\ud800234567"}',
            headers={"content-type": "application/json"},
        )
        number = await client.post("/phone-check", json={"phone": 48601234567})
    assert (surrogate.status_code, surrogate.json()["code"]) == (422, "invalid_request")
    assert (number.status_code, number.json()["code"]) == (422, "invalid_request")


async def test_a_mobile_of_an_allowed_country_passes_in_e164(ctx: ServiceContext) -> None:
    async with phone_client(ctx) as client:
        response = await client.post("/phone-check", json={"phone": "+48 601-234-567"})
    assert response.status_code == 200 and response.json() == {"phone": "+48601234567"}
