#!/usr/bin/env python3
"""Writes authsvc.json beside this file, the Grafana dashboard for authsvc.

    python3 deploy/grafana/dashboard.py          write authsvc.json
    python3 deploy/grafana/dashboard.py --check  exit 1 when authsvc.json is not what this writes

The JSON is what operators import (Dashboards → New → Import); this script is where it is
edited, so the panels stay readable. It needs nothing but the standard library.
tests/test_dashboard.py checks every metric the queries name against a live /metrics and
that every rule of deploy/prometheus/alerts.yml has a panel that names it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "authsvc.json"
# Grafana 12's dashboard schema; older Grafana 11 imports it as well, newer ones migrate it.
SCHEMA_VERSION = 41
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"
WIDTH = 24  # Grafana's grid is 24 columns wide

Panel = dict[str, Any]


def query(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": " ".join(expr.split()),
        "legendFormat": legend or "__auto",
        "refId": ref,
        "range": True,
    }


def timeseries(
    title: str,
    description: str,
    alerts: tuple[str, ...],
    targets: list[tuple[str, str]],
    *,
    unit: str = "short",
    threshold: float | None = None,
    stack: bool = False,
    right: tuple[str, str] | None = None,
) -> Panel:
    """A time series panel; `alerts` are the rules of alerts.yml it is the place to look for
    (its description names them, its links open them in Grafana's alert list). `right` is
    (refId, unit) of a query drawn on a right-hand axis of its own (another unit)."""
    said = (
        "Alert: " + ", ".join(f"{name} (deploy/prometheus/alerts.yml)" for name in alerts) + "."
        if alerts
        else "Alert: none fires for this panel; it is for looking."
    )
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if threshold is not None:
        steps.append({"color": "red", "value": threshold})
    return {
        "type": "timeseries",
        "title": title,
        "description": f"{description}\n\n{said}",
        "datasource": DATASOURCE,
        "targets": [
            query(expr, legend, chr(ord("A") + index))
            for index, (expr, legend) in enumerate(targets)
        ],
        "links": [
            {"title": f"Alert rule {name}", "url": f"/alerting/list?search={name}"}
            for name in alerts
        ],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "min": 0,
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                    "thresholdsStyle": {"mode": "line" if threshold is not None else "off"},
                },
                "thresholds": {"mode": "absolute", "steps": steps},
            },
            "overrides": [
                {
                    "matcher": {"id": "byFrameRefID", "options": right[0]},
                    "properties": [
                        {"id": "unit", "value": right[1]},
                        {"id": "custom.axisPlacement", "value": "right"},
                        {"id": "custom.stacking", "value": {"mode": "none", "group": "A"}},
                    ],
                }
            ]
            if right
            else [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def rows() -> list[tuple[str, list[Panel]]]:
    """The dashboard's rows, top to bottom, each with its panels left to right."""
    sign_ins = [
        timeseries(
            "Sign-in steps by outcome",
            "Each step of a login per second: right and wrong passwords at /login, right and "
            "wrong codes, dead challenges, logins refused for a secured account. When "
            "password_failed climbs while login_succeeded does not, someone is trying "
            "passwords: look at the throttling panel and at the password_failed lines in the "
            "logs (their ip field). When login_succeeded falls with no rise in failures, "
            "codes may not be arriving: look at the delivery row.",
            (),
            [
                (
                    'sum by (event, outcome) (rate(authsvc_auth_events_total{event=~"'
                    "password_succeeded|password_failed|login_succeeded|code_failed|"
                    f'challenge_exhausted|login_reset_required"}}{RATE}))',
                    "{{event}} ({{outcome}})",
                )
            ],
            unit="ops",
        ),
        timeseries(
            "Sign-ins by factor",
            "Completed sign-ins per second by the second step that finished them (email, "
            "sms, totp, recovery_code). A jump in recovery_code sign-ins is worth a look: "
            "customers who lost their app, or someone using codes found elsewhere; the "
            "recovery_code_used events name the accounts. A fall of one channel to zero "
            "points at its provider (delivery row).",
            (),
            [(f"sum by (factor) (rate(authsvc_sign_ins_total{RATE}))", "{{factor}}")],
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Failure ratio",
            "The share of passwords at /login that were wrong, and of codes that were wrong. "
            "A steady level is customers mistyping; a rise to most attempts is guessing or "
            "credential stuffing: check the throttling panel and the password_failed lines' "
            "ip fields, and block the sources at the edge if they are few.",
            (),
            [
                (
                    'sum(rate(authsvc_auth_events_total{event="password_failed"}'
                    f"{RATE})) / sum(rate(authsvc_auth_events_total{{event=~"
                    f'"password_failed|password_succeeded"}}{RATE}))',
                    "wrong passwords",
                ),
                (
                    f'sum(rate(authsvc_auth_events_total{{event="code_failed"}}{RATE})) / '
                    "sum(rate(authsvc_auth_events_total{event=~"
                    f'"code_failed|login_succeeded|challenge_exhausted"}}{RATE}))',
                    "wrong codes",
                ),
            ],
            unit="percentunit",
        ),
        timeseries(
            "Throttling and attack notices",
            "Logins refused by the back-off (429), attack notices queued to customers (one per "
            "account and window), challenges killed by the last wrong code, and sessions "
            "refused. A rise in login_throttled with attack_notice means accounts are being "
            "attacked: the notices tell their owners; find the sources in the login_throttled "
            "log lines (ip) and block them at the edge if they are few.",
            (),
            [
                (
                    'sum by (event) (rate(authsvc_auth_events_total{event=~"login_throttled|'
                    f'attack_notice|challenge_exhausted|session_rejected"}}{RATE}))',
                    "{{event}}",
                )
            ],
            unit="ops",
        ),
    ]
    delivery = [
        timeseries(
            "Second-step delivery latency by channel",
            "From a code (or notice) being due to its being handed to the provider, p50 and "
            "p99 by channel. Codes should leave within a second. When it grows: is the "
            "delivery worker running (`authsvc serve` runs one, or `authsvc worker`), and is "
            "the provider slow or failing (the failure panel beside)?",
            ("AuthsvcOutboxBacklog",),
            [
                (
                    "histogram_quantile(0.5, sum by (le, channel) (rate("
                    f"authsvc_delivery_latency_seconds_bucket{RATE})))",
                    "p50 {{channel}}",
                ),
                (
                    "histogram_quantile(0.99, sum by (le, channel) (rate("
                    f"authsvc_delivery_latency_seconds_bucket{RATE})))",
                    "p99 {{channel}}",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "Outbox backlog by channel",
            "Messages in the outbox by channel and state (due: to send now; waiting: a retry, "
            "a lease or a scheduled notice), and the age of the oldest due message. A "
            "growing due count or an age over two minutes means messages are not leaving: "
            "start or restart the delivery worker, check the provider's reachability and "
            "the message_failed log lines.",
            ("AuthsvcOutboxBacklog",),
            [
                ("sum by (channel, state) (authsvc_outbox_messages)", "{{channel}} {{state}}"),
                ("max(authsvc_outbox_oldest_queued_age_seconds)", "oldest due"),
            ],
            right=("B", "s"),
        ),
        timeseries(
            "Delivery attempts and failure ratio by channel and provider",
            "Attempts per second by channel, provider and result (sent, retry, abandoned), "
            "and the share of one provider's attempts that failed over 10 minutes (the "
            "alert's own expression, threshold 0.2). When a provider fails: its reason is in "
            "the message_failed log lines; check its credentials and status page, or switch "
            "AUTHSVC_EMAIL_PROVIDER / AUTHSVC_SMS_PROVIDER.",
            ("AuthsvcDeliveryFailing",),
            [
                (
                    "sum by (channel, provider, result) (rate("
                    f"authsvc_delivery_attempts_total{RATE}))",
                    "{{channel}} {{provider}} {{result}}/s",
                ),
                (
                    "sum by (channel, provider) (rate(authsvc_delivery_attempts_total"
                    '{result!="sent"}[10m])) / sum by (channel, provider) '
                    "(rate(authsvc_delivery_attempts_total[10m]))",
                    "{{channel}} {{provider}} failure ratio",
                ),
            ],
            right=("B", "percentunit"),
        ),
    ]
    sms = [
        timeseries(
            "SMS sent by country",
            "SMS handed to the gateway per hour, by the number's country: the bill. A country "
            "you do not serve, or one that jumps, is the mark of SMS pumping; `authsvc sms "
            "status` shows this hour's use by country, prefix, number and address, and the "
            'budgets (docs/configuration.md, "SMS pumping guard") cap it.',
            ("AuthsvcSmsCountryBudgetSpent",),
            [(f"sum by (country) (rate(authsvc_sms_sent_total{RATE})) * 3600", "{{country}}")],
            unit="short",
            stack=True,
        ),
        timeseries(
            "SMS refused by budget",
            "Codes sent by e-mail instead because an SMS budget of the hour was spent, by "
            "budget (service, country, prefix, number, ip), per 5 minutes. number and ip "
            "refusals are the guard at work; country or service refusals reach real customers: "
            "run `authsvc sms status` to see who spent the budget, and raise the budget if it "
            "was honest traffic.",
            ("AuthsvcSmsServiceBudgetSpent", "AuthsvcSmsCountryBudgetSpent"),
            [
                (
                    "sum by (budget) (increase(authsvc_sms_budget_refusals_total[5m]))",
                    "{{budget}}",
                )
            ],
            stack=True,
        ),
    ]
    support = [
        timeseries(
            "Support verifications by key and result",
            "Calls of POST /auth-codes/verify per second by support key and result (valid, "
            "mismatch, expired, no_active_code, locked, rate_limited, ...), and each key's "
            "mismatches and locks over 15 minutes (the alert fires at 10 or more when they are "
            "over half the key's checks). A key that mostly mismatches may be guessing codes: "
            "ask its tool's owners, and `authsvc support-keys revoke KEY` stops it at once; "
            "the audit trail names the customers it tried.",
            ("AuthsvcSupportKeyGuessing",),
            [
                (
                    f"sum by (key, result) (rate(authsvc_support_verifications_total{RATE}))",
                    "{{key}} {{result}}/s",
                ),
                (
                    "sum by (key) (increase(authsvc_support_verifications_total"
                    '{result=~"mismatch|locked"}[15m]))',
                    "{{key}} mismatches in 15 min",
                ),
            ],
            right=("B", "short"),
        ),
    ]
    http = [
        timeseries(
            "Request latency by route (p50, p99)",
            "Server-side latency by route template. A slow /login alone is argon2 queueing "
            "(capacity row); every route slow at once is the database (pool panel) or the "
            "machine. GET /session is what every panel page waits for: its p99 should stay "
            "well under 50 ms.",
            ("AuthsvcSessionChecksSlow",),
            [
                (
                    "histogram_quantile(0.5, sum by (le, route) (rate("
                    f"authsvc_http_request_duration_seconds_bucket{RATE})))",
                    "p50 {{route}}",
                ),
                (
                    "histogram_quantile(0.99, sum by (le, route) (rate("
                    f"authsvc_http_request_duration_seconds_bucket{RATE})))",
                    "p99 {{route}}",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "5xx and 503 rates",
            "Answers with a 5xx status per second, and 503 problems by code: overloaded (the "
            "argon2 queue is full: add replicas or cores), database_unavailable (PostgreSQL or "
            "PgBouncer unreachable: check them first). Any other 5xx is a bug: its request_id "
            "finds the stack trace in the logs.",
            ("AuthsvcServerErrors", "AuthsvcDatabaseUnavailable", "AuthsvcShedding"),
            [
                (
                    f'sum(rate(authsvc_http_request_duration_seconds_count{{status="5xx"}}{RATE}))',
                    "5xx",
                ),
                (
                    f'sum by (code) (rate(authsvc_http_problems_total{{status="503"}}{RATE}))',
                    "503 {{code}}",
                ),
            ],
            unit="reqps",
            threshold=0.1,
        ),
        timeseries(
            "Session checks",
            "GET /session per second (every panel page asks it) and its p99. A p99 over "
            "50 ms for minutes: add replicas, or check PostgreSQL and PgBouncer (pool panel).",
            ("AuthsvcSessionChecksSlow",),
            [
                (
                    "sum(rate(authsvc_http_request_duration_seconds_count"
                    f'{{route="/session", method="GET"}}{RATE}))',
                    "checks/s",
                ),
                (
                    "histogram_quantile(0.99, sum by (le) (rate("
                    "authsvc_http_request_duration_seconds_bucket"
                    f'{{route="/session", method="GET"}}{RATE})))',
                    "p99",
                ),
            ],
            unit="reqps",
            right=("B", "s"),
        ),
    ]
    capacity = [
        timeseries(
            "argon2: running, waiting, shed",
            "Password checks on an argon2 thread now, waiting for one, and refused with 503 "
            "overloaded per second. Running at the thread count with a queue that stays "
            "full means the replicas are out of CPU for logins: add replicas or cores. A "
            "flood of logins from few sources is an attack: the throttling panel shows it.",
            ("AuthsvcShedding",),
            [
                ("sum(authsvc_argon2_running)", "running"),
                ("sum(authsvc_argon2_waiting)", "waiting"),
                (f"sum(rate(authsvc_argon2_shed_total{RATE}))", "shed/s"),
            ],
            right=("C", "reqps"),
        ),
        timeseries(
            "Database pool in use",
            "Database connections checked out of the pool, per replica (the pool allows "
            "AUTHSVC_DB_POOL_SIZE, 10, plus as many in overflow, per process). Near the bound "
            "for minutes: statements are slow (look at PostgreSQL's pg_stat_activity) or the "
            "replica is overloaded; 503 database_unavailable means it cannot connect at all.",
            ("AuthsvcDatabasePoolBusy", "AuthsvcDatabaseUnavailable"),
            [("max by (instance) (authsvc_db_pool_connections_in_use)", "{{instance}}")],
            threshold=15,
        ),
    ]
    return [
        ("Sign-ins", sign_ins),
        ("Delivery of codes", delivery),
        ("SMS", sms),
        ("Support verification", support),
        ("HTTP", http),
        ("Capacity", capacity),
    ]


def build() -> dict[str, Any]:
    panels: list[Panel] = []
    y = 0
    next_id = 1
    for title, members in rows():
        panels.append(
            {
                "type": "row",
                "title": title,
                "id": next_id,
                "collapsed": False,
                "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        per_line = 2 if len(members) == 4 else min(len(members), 3)
        width = WIDTH // per_line
        for index, panel in enumerate(members):
            column, line = index % per_line, index // per_line
            panel["id"] = next_id
            panel["gridPos"] = {"h": 8, "w": width, "x": column * width, "y": y + 8 * line}
            panels.append(panel)
            next_id += 1
        y += 8 * ((len(members) + per_line - 1) // per_line)
    return {
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "11.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        ],
        "id": None,
        "uid": "authsvc",
        "title": "authsvc",
        "description": "Sign-ins, delivery of codes, SMS, support verification, HTTP and "
        "capacity of authsvc. Generated by deploy/grafana/dashboard.py.",
        "tags": ["authsvc"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "options": [],
                }
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--check"]:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run python3 {__file__}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
