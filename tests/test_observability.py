"""Logs an operator can search and metrics an operator can alert on."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import SecretStr

from authsvc.context import ServiceContext
from authsvc.ops.logs import JsonFormatter, RequestIdFilter, TextFormatter
from tests.conftest import make_client, with_settings
from tests.factories import make_account
from tests.login.flow import start_login
from tests.test_http_basics import assert_problem

ROOT = Path(__file__).resolve().parent.parent
UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(autouse=True)
def _request_ids(caplog: pytest.LogCaptureFixture) -> None:
    """As on the service's own handler: each record takes the request id when emitted."""
    caplog.handler.addFilter(RequestIdFilter())


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


async def test_an_auth_event_is_one_json_line_with_its_request_id(
    ctx: ServiceContext, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await make_account(ctx, login="logged")
    caplog.set_level(logging.INFO)
    response = await client.post(
        "/login",
        json={"login": "logged", "password": "hunter2-not-it"},
        headers={"user-agent": "Firefox/140"},
    )
    request_id = response.headers["x-request-id"]
    lines = json_lines(caplog)
    failed = next(line for line in lines if line.get("event") == "password_failed")
    assert UTC_MS.fullmatch(str(failed["time"]))
    assert failed["level"] == "info" and failed["logger"] == "authsvc.events"
    assert failed["outcome"] == "failure" and failed["ip"] == "203.0.113.7"
    assert failed["request_id"] == request_id
    access = next(line for line in lines if line.get("event") == "http_request")
    assert access["request_id"] == request_id and access["user_agent"] == "Firefox/140"
    assert (access["method"], access["route"], access["status"]) == ("POST", "/login", 401)
    assert isinstance(access["duration_ms"], float)
    assert "hunter2-not-it" not in caplog.text + json.dumps(lines)


async def test_access_lines_carry_the_route_template_not_the_raw_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    challenge = "6f0c3c1e-0000-4000-8000-000000000000"
    await client.get(f"/login/challenges/{challenge}")
    access = [line for line in json_lines(caplog) if line.get("event") == "http_request"]
    assert access[-1]["route"] == "/login/challenges/{challenge_id}"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("authsvc")]
    assert challenge not in " ".join(ours)  # (the test's own httpx client logs its URL)


async def test_request_ids_are_generated_or_taken_from_a_trusted_proxy(
    ctx: ServiceContext,
) -> None:
    behind_proxy = with_settings(ctx, trusted_proxies="10.0.0.0/8")
    async with make_client(behind_proxy, ip="10.1.2.3") as proxied:
        kept = await proxied.get("/healthz", headers={"x-request-id": "lb-4711"})
    async with make_client(behind_proxy) as direct:
        ignored = await direct.get("/healthz", headers={"x-request-id": "lb-4711"})
        fresh = [(await direct.get("/healthz")).headers["x-request-id"] for _ in range(2)]
    assert kept.headers["x-request-id"] == "lb-4711"
    assert ignored.headers["x-request-id"] != "lb-4711"
    assert fresh[0] != fresh[1] and all(re.fullmatch(r"[0-9a-f]{32}", f) for f in fresh)


async def test_metrics_are_closed_outside_dev_without_the_token(ctx: ServiceContext) -> None:
    async with make_client(with_settings(ctx, env="prod")) as client:
        assert_problem(await client.get("/metrics"), 403, "metrics_closed")
    token = "metrics-" + "t" * 24
    async with make_client(with_settings(ctx, env="prod", metrics_token=token)) as client:
        refused = await client.get("/metrics", headers={"authorization": "Bearer wrong"})
        assert_problem(refused, 401, "metrics_token_required")
        allowed = await client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert allowed.status_code == 200 and "authsvc_outbox_messages" in allowed.text


async def test_metrics_report_the_backlog_and_what_happened(
    ctx: ServiceContext, client: httpx.AsyncClient
) -> None:
    await make_account(ctx, login="metered")
    assert (await start_login(client, "metered")).status_code == 200
    await client.get("/login/challenges/not-a-uuid")
    text = (await client.get("/metrics")).text
    # the code, not yet sent, and the "not completed" notice; none by SMS
    assert 'authsvc_outbox_messages{channel="email",state="due"} 1.0' in text
    assert 'authsvc_outbox_messages{channel="email",state="waiting"} 1.0' in text
    assert 'authsvc_outbox_messages{channel="sms",state="due"} 0.0' in text
    assert 'authsvc_auth_events_total{event="password_succeeded",outcome="challenge"}' in text
    assert 'route="/login",status="2xx"' in text
    assert 'authsvc_http_problems_total{code="invalid_request",status="422"}' in text
    assert "authsvc_db_pool_connections_in_use" in text


def _metric_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


async def test_the_alert_rules_load_and_name_metrics_that_exist(
    client: httpx.AsyncClient,
) -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exposed = _metric_names((await client.get("/metrics")).text)
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= {
        "AuthsvcOutboxBacklog",
        "AuthsvcDeliveryFailing",
        "AuthsvcShedding",
        "AuthsvcDatabaseUnavailable",
        "AuthsvcSupportKeyGuessing",
        "AuthsvcSmsServiceBudgetSpent",
    }
    for rule in alerts:
        assert rule["expr"] and rule["labels"]["severity"] in {"page", "warn"}
        for name in re.findall(r"authsvc_[a-z0-9_]+", rule["expr"]):
            base = re.sub(r"_(bucket|count|sum|total)$", "", name)
            assert base in exposed or name in exposed, f"{rule['alert']}: no metric {name}"


def test_settings_secret_metrics_token_is_hidden() -> None:
    assert "t" * 24 not in repr(SecretStr("t" * 24))


def test_uvicorn_colour_copies_stay_out_of_both_formats() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started [%d]", (7,), None)
    record.color_message = "Started [\x1b[36m%d\x1b[0m]"
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert "color_message" not in entry and entry["message"] == "Started [7]"
    text = TextFormatter().format(record)
    assert text.endswith(" INFO uvicorn Started [7]") and "\x1b" not in text
