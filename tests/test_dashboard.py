"""The Grafana dashboard (deploy/grafana/authsvc.json) imports as it is and cannot rot: every
metric its queries and the alert rules name is on a live /metrics with the labels they use,
the label values they match on are ones the service writes (events, routes, problem codes,
the vocabularies of docs/operations.md), Prometheus parses them, every alert rule has a
panel that names it, and the JSON is what its script writes."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from authsvc.app import create_app
from authsvc.core.errors import AppError
from authsvc.ops import metrics
from tests.conftest import make_settings
from tests.test_events_documented import _documented

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "deploy" / "grafana"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Labels Prometheus itself adds to every series it scrapes.
TARGET_LABELS = {"instance", "job"}
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")
METRIC = re.compile(r"\bauthsvc_[a-z0-9_]+")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
VALUES = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"([^\"]*)\"")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
ALERT_NAME = re.compile(r"\bAuthsvc[A-Z][A-Za-z]+")


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GRAFANA / "authsvc.json").read_text(encoding="utf-8"))
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every dashboard query and every alert rule."""
    for panel in _panels():
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for rule in _alerts():
        yield f"alert {rule['alert']}", rule["expr"]


def exposed_series(text: str) -> dict[str, set[str]]:
    """Each sample name the exposition `text` can carry (from its TYPE lines: a histogram's
    _bucket, _sum and _count, a counter's _total) with the labels it has, from the metrics
    module (a labelled metric nothing has touched yet shows no samples to read them from)."""
    labels: dict[str, set[str]] = {}
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            name = collector._name + ("_total" if collector._type == "counter" else "")
            labels[name] = set(collector._labelnames)
    series: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, name, kind = line.split()
        if kind == "histogram":
            own = labels.get(name, set())
            series.update(
                {f"{name}_bucket": own | {"le"}, f"{name}_sum": own, f"{name}_count": own}
            )
        elif kind == "counter":
            total = name if name.endswith("_total") else f"{name}_total"
            series[total] = labels.get(total, set())
        else:
            series[name] = labels.get(name, set())
    return series


def unknown_names(expr: str, series: dict[str, set[str]]) -> list[str]:
    """What `expr` names that /metrics does not have: metrics, and labels that none of the
    metrics it reads carries."""
    wrong = [f"selector {name}" for name in SELECTOR.findall(expr) if name not in series]
    used = set(METRIC.findall(expr))
    wrong += [f"metric {name}" for name in sorted(used - set(series))]
    known = TARGET_LABELS.union(*(series.get(name, set()) for name in used))
    named = set(MATCHER.findall(expr))
    for group in GROUPING.findall(expr):
        named |= {label.strip() for label in group.split(",") if label.strip()}
    wrong += [f"label {label}" for label in sorted(named - known)]
    return wrong


def _codes(error: type[AppError]) -> set[str]:
    return {error.code}.union(*(_codes(sub) for sub in error.__subclasses__()))


def known_values() -> dict[str, set[str]]:
    """What a label's values may be where the code says (events, routes, problem codes);
    the other labels' values are those of docs/operations.md (its metrics and events tables)."""
    app = create_app(settings=make_settings())
    return {
        "event": _documented(),
        "route": set(app.openapi()["paths"]),
        "code": _codes(AppError),
        "method": {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"},
        "status": {f"{hundred}xx" for hundred in range(1, 6)}
        | {str(status) for status in range(100, 600)},
    }


def unknown_values(expr: str, known: dict[str, set[str]], readme: str) -> list[str]:
    """Label values `expr` matches on that the service never writes: each alternative of a
    regular expression made of plain words (a|b) counts as a value."""
    wrong = []
    for label, pattern in VALUES.findall(expr):
        for value in pattern.split("|"):
            found = value in known[label] if label in known else f"`{value}`" in readme
            if not found:
                wrong.append(f"{label}={value}")
    return wrong


def test_the_dashboard_is_what_its_script_writes() -> None:
    spec = importlib.util.spec_from_file_location("grafana_dashboard", GRAFANA / "dashboard.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.render() == (GRAFANA / "authsvc.json").read_text(encoding="utf-8"), (
        "deploy/grafana/authsvc.json is stale: run python3 deploy/grafana/dashboard.py"
    )


def test_the_dashboard_imports_as_it_is_on_any_prometheus() -> None:
    dashboard = _dashboard()
    assert dashboard["id"] is None and dashboard["uid"] == "authsvc"
    assert dashboard["schemaVersion"] >= 39  # Grafana 11 and later
    [variable] = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    panels = _panels()
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"] == DATASOURCE for target in panel["targets"])

    def uids(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            yield from (str(v) for k, v in node.items() if k == "uid")
            for value in node.values():
                yield from uids(value)
        elif isinstance(node, list):
            for value in node:
                yield from uids(value)

    # No data source of one Grafana (a uid) is written in: the variable picks it.
    assert set(uids(dashboard["panels"])) == {"${datasource}"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24, panel["title"]
        mine = {
            (place["x"] + dx, place["y"] + dy)
            for dx in range(place["w"])
            for dy in range(place["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_the_dashboard_shows_what_operators_ask() -> None:
    queries = " ".join(target["expr"] for panel in _panels() for target in panel["targets"])
    for wanted in (
        "authsvc_auth_events_total",
        "authsvc_sign_ins_total",
        'event="password_failed"',
        "login_throttled|attack_notice",
        "authsvc_delivery_latency_seconds_bucket",
        "sum by (channel, state) (authsvc_outbox_messages)",
        "sum by (country) (rate(authsvc_sms_sent_total",
        "sum by (budget) (increase(authsvc_sms_budget_refusals_total",
        "sum by (key, result) (rate(authsvc_support_verifications_total",
        "histogram_quantile(0.99, sum by (le, route)",
        'status="5xx"',
        'authsvc_http_problems_total{status="503"}',
        "authsvc_argon2_running",
        "authsvc_argon2_waiting",
        "authsvc_argon2_shed_total",
        "authsvc_db_pool_connections_in_use",
        'route="/session", method="GET"',
    ):
        assert wanted in queries, wanted


def test_every_alert_rule_has_a_panel_that_names_it_and_says_what_to_do() -> None:
    alerts = {rule["alert"] for rule in _alerts()}
    named: set[str] = set()
    for panel in _panels():
        description = panel["description"]
        assert "Alert:" in description and len(description) > 150, panel["title"]
        mentioned = set(ALERT_NAME.findall(description))
        assert mentioned <= alerts, f"{panel['title']} names no rule {mentioned - alerts}"
        linked = {link["url"].rsplit("=", 1)[1] for link in panel["links"]}
        assert linked == mentioned, panel["title"]
        named |= mentioned
    assert alerts - named == set(), f"no panel names {alerts - named}"


async def test_every_query_names_metrics_and_labels_on_a_live_metrics(
    client: httpx.AsyncClient,
) -> None:
    series = exposed_series((await client.get("/metrics")).text)
    assert "authsvc_http_request_duration_seconds_bucket" in series  # the exposition was read
    known = known_values()
    readme = (ROOT / "docs" / "operations.md").read_text()
    readme = readme[readme.index("## Logs and metrics") :]
    checked = 0
    for where, expr in _expressions():
        assert METRIC.search(expr), f"{where} reads no authsvc metric"
        assert unknown_names(expr, series) == [], f"{where}: {expr}"
        assert unknown_values(expr, known, readme) == [], f"{where}: {expr}"
        checked += 1
    assert checked >= len(_panels()) + len(_alerts())


@pytest.mark.skipif(not shutil.which("promtool"), reason="no promtool (Debian: prometheus)")
def test_every_query_is_promql_that_prometheus_parses(tmp_path: Path) -> None:
    """Prometheus's own parser (promtool) reads each query as a recording rule: a typo in
    the syntax, which the name checks above do not see, fails here."""
    rules = [
        {"record": f"authsvc:query_{index}", "expr": expr.replace("$__rate_interval", "5m")}
        for index, (_, expr) in enumerate(_expressions())
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


@pytest.mark.parametrize(
    ("expr", "wrong"),
    [
        ("sum(rate(authsvc_logins_total[5m]))", ["metric authsvc_logins_total"]),
        ("sum(authsvc_argon2_running_total)", ["metric authsvc_argon2_running_total"]),
        ("rate(authsvc_sign_ins[5m])", ["metric authsvc_sign_ins"]),
        ('up{job="authsvc"}', ["selector up"]),
        ("sum by (route) (rate(authsvc_sign_ins_total[5m]))", ["label route"]),
        ('rate(authsvc_delivery_latency_seconds_count{chanel="sms"}[5m])', ["label chanel"]),
    ],
)
async def test_the_check_refuses_what_metrics_lacks(
    client: httpx.AsyncClient, expr: str, wrong: list[str]
) -> None:
    series = exposed_series((await client.get("/metrics")).text)
    assert unknown_names(expr, series) == wrong


@pytest.mark.parametrize(
    ("expr", "wrong"),
    [
        ('authsvc_auth_events_total{event=~"password_failed|pasword_succeeded"}',
         ["event=pasword_succeeded"]),
        ('authsvc_http_request_duration_seconds_count{route="/sessions/current"}',
         ["route=/sessions/current"]),
        ('authsvc_http_problems_total{code="db_unavailable"}', ["code=db_unavailable"]),
        ('authsvc_http_problems_total{status="5XX"}', ["status=5XX"]),
        ('authsvc_support_verifications_total{result=~"mismatch|mistmatch"}', ["result=mistmatch"]),
        ('authsvc_sms_budget_refusals_total{budget="service"}', []),
    ],
)  # fmt: skip
def test_the_check_refuses_values_the_service_never_writes(expr: str, wrong: list[str]) -> None:
    readme = (ROOT / "docs" / "operations.md").read_text()
    assert unknown_values(expr, known_values(), readme) == wrong
