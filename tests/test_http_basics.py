from __future__ import annotations

import dataclasses

import httpx
import pytest
from pydantic import BaseModel, Field
from sqlalchemy import text

from authsvc.app import create_app
from authsvc.context import ServiceContext
from authsvc.core.db import Database
from tests.conftest import make_client, with_settings

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["code"] == code and body["status"] == status
    assert "Traceback" not in response.text
    return body


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_answers_ready_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text


async def test_readyz_is_503_when_the_database_is_unreachable(ctx: ServiceContext) -> None:
    unreachable = Database.from_url("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=1)
    async with make_client(dataclasses.replace(ctx, db=unreachable)) as http:
        response = await http.get("/readyz")
    await unreachable.dispose()
    assert_problem(response, 503, "not_ready")


async def test_readyz_is_503_when_the_schema_is_behind(ctx: ServiceContext) -> None:
    async with ctx.db.engine.begin() as connection:
        await connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    try:
        async with make_client(ctx) as http:
            body = assert_problem(await http.get("/readyz"), 503, "not_ready")
        assert "migrate" in str(body["detail"])
    finally:
        async with ctx.db.engine.begin() as connection:
            from authsvc.ops.migrations import head_revision

            await connection.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()}
            )


DOC_PAGES = ("/docs", "/redoc", "/openapi.json")


async def test_the_interactive_docs_are_served_in_dev_mode(client: httpx.AsyncClient) -> None:
    for path in DOC_PAGES:
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "authsvc"


async def test_outside_dev_mode_the_docs_are_not_found(ctx: ServiceContext) -> None:
    """Their scripts come from a public CDN without SRI or CSP: not on a production origin.
    The contract stays readable in openapi.yaml, which the app still builds."""
    prod = with_settings(ctx, env="prod")
    async with make_client(prod) as client:
        for path in DOC_PAGES:
            assert_problem(await client.get(path), 404, "not_found")
    assert create_app(ctx=prod).openapi()["info"]["title"] == "authsvc"


async def test_outside_dev_mode_every_answer_carries_hsts(ctx: ServiceContext) -> None:
    async with make_client(with_settings(ctx, env="prod")) as client:
        for response in (await client.get("/healthz"), await client.get("/no-such-page")):
            assert response.headers["strict-transport-security"] == "max-age=31536000"
    async with make_client(with_settings(ctx, env="prod", hsts_max_age="600")) as client:
        answer = await client.get("/healthz")
        assert answer.headers["strict-transport-security"] == "max-age=600"
    async with make_client(with_settings(ctx, env="prod", hsts_max_age="0")) as client:
        assert "strict-transport-security" not in (await client.get("/healthz")).headers


async def test_dev_mode_sends_no_hsts(client: httpx.AsyncClient) -> None:
    """Dev serves plain HTTP on localhost, where HSTS would stick to every local port."""
    assert "strict-transport-security" not in (await client.get("/healthz")).headers


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/thing"), 404, "not_found")


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_a_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    # Two routes share the path (found by schemathesis: Starlette named only the first's).
    response = await client.put("/auth-codes/current")
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "DELETE"}


class Probe(BaseModel):
    name: str = Field(min_length=2)
    count: int


@pytest.fixture
def probing_app(ctx: ServiceContext) -> httpx.AsyncClient:
    app = create_app(ctx=ctx)

    @app.post("/_probe")
    async def probe(body: Probe) -> Probe:
        return body

    @app.get("/_boom")
    async def boom() -> None:
        raise RuntimeError("secret-ish internal detail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="https://authsvc.test")


async def test_validation_error_is_422_with_per_field_errors(
    probing_app: httpx.AsyncClient,
) -> None:
    response = await probing_app.post("/_probe", json={"name": "x", "count": "many"})
    body = assert_problem(response, 422, "invalid_request")
    fields = {error["field"] for error in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"name", "count"}
    assert "many" not in response.text  # the input itself is never echoed back


async def test_malformed_json_is_a_400_problem(probing_app: httpx.AsyncClient) -> None:
    response = await probing_app.post(
        "/_probe", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "invalid_json")


async def test_unhandled_error_is_a_500_problem_without_details(
    probing_app: httpx.AsyncClient,
) -> None:
    response = await probing_app.get("/_boom")
    assert_problem(response, 500, "internal_error")
    assert "secret-ish" not in response.text
    assert "RuntimeError" not in response.text


async def test_metrics_are_in_prometheus_text_format(client: httpx.AsyncClient) -> None:
    await client.post("/login", json={"login": "nobody", "password": "whatever-it-is"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'authsvc_auth_events_total{event="password_failed",outcome="failure"}' in response.text
    assert "whatever-it-is" not in response.text


# The second: letters of two bytes before the error (the position counts characters).
@pytest.mark.parametrize("login", ["jan", "żółw"])
async def test_malformed_json_says_where_and_names_no_field(
    client: httpx.AsyncClient, login: str
) -> None:
    response = await client.post(
        "/login",
        content=f'{{"login": "{login}",\n "password": }}'.encode(),
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 400, "invalid_json")
    assert (body["line"], body["column"]) == (2, 14)  # the "}" where a value should be
    assert "not valid JSON" in str(body["detail"]) and "line 2, column 14" in str(body["detail"])
    assert "errors" not in body


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_sent_as_json_is_told_to_be(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/login", content=b'{"login": "jan", "password": "x"}', headers=headers
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "application/json" in str(body["detail"])
