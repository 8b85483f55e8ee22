"""Draws the performance page's charts (SVG) from the benchmarks' results files.

    python3 dev.py python bench/charts.py [--results bench/results] [--out docs/performance]

Reads login.json, session.json and delivery.json from `--results` (what `login_bench.py`,
`session_bench.py` and `delivery_bench.py` write with `--json FILE`) and writes
logins.svg, latency.svg, sessions.svg and delivery.svg to `--out`, each captioned with
the machine and date of the runs it shows. matplotlib is a bench-only dependency (the
`bench` extra; the `dev` extra has it too).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")  # no display; before pyplot is imported

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = HERE.parent / "docs" / "performance"
Run = dict[str, Any]

# Text stays text (smaller files, the reader's font) and ids stay the same from run to run,
# so a chart whose figures did not change does not change in git either.
plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "authsvc",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)
COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2")


def load(results: Path, benchmark: str) -> list[Run]:
    data = json.loads((results / f"{benchmark}.json").read_text())
    if data.get("benchmark") != benchmark or not data.get("runs"):
        raise SystemExit(f"{results / benchmark}.json holds no {benchmark} runs")
    runs: list[Run] = data["runs"]
    return runs


def caption(runs: list[Run]) -> str:
    """The machines of `runs` with the dates each was measured on, in the order met."""
    dates: dict[str, list[str]] = {}
    for run in runs:
        on = dates.setdefault(run["machine"], [])
        if run["date"] not in on:
            on.append(run["date"])
    machines = "; ".join(f"{machine}, {' and '.join(on)}" for machine, on in dates.items())
    return f"Measured on {machines}. Figures: bench/results/*.json, drawn by bench/charts.py."


def wrap(label: str) -> str:
    return textwrap.fill(label, 18)


def finish(figure: Figure, runs: list[Run], path: Path) -> None:
    figure.text(0.01, 0.01, caption(runs), fontsize=7, color="#555555")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)


def error(run: Run, key: str, scale: float = 1.0) -> list[list[float]]:
    """Matplotlib's (below, above) error bar of `key`, from its _min and _max when known."""
    value = float(run[key]) * scale
    low = float(run.get(f"{key}_min", value / scale)) * scale
    high = float(run.get(f"{key}_max", value / scale)) * scale
    return [[value - low], [high - value]]


def logins_chart(login: list[Run], path: Path) -> None:
    """Logins/s against the argon2 bound, one panel per argon2 cost."""
    figure, axes = plt.subplots(1, len(login), figsize=(3.6 * len(login), 3.4), squeeze=False)
    for axis, run in zip(axes[0], login, strict=True):
        bound = run["bound_per_s"]
        bars = [
            ("argon2 bound\n(cores ÷ one check)", bound, error(run, "bound_per_s")),
            ("argon2 alone,\nall cores", bound * run["all_cores_ratio"], None),
            ("logins\n(median round)", bound * run["throughput_ratio"],
             error(run, "throughput_ratio", bound)),
        ]  # fmt: skip
        for index, (_, value, spread) in enumerate(bars):
            axis.bar(index, value, color=COLOURS[index], yerr=spread, capsize=4)
            axis.annotate(f"{value:.1f}/s\n{100 * value / bound:.0f} %", (index, value),
                          xytext=(0, 3), textcoords="offset points", ha="center",
                          va="bottom", fontsize=7)  # fmt: skip
        axis.axhline(bound, color="#888888", linestyle="--", linewidth=0.8)
        axis.set_xticks(range(len(bars)), [name for name, _, _ in bars], fontsize=7)
        axis.set_ylim(0, bound * 1.35)
        axis.set_ylabel("logins per second")
        axis.set_title(
            f"argon2 {run['label']}: one check {run['one_verification_ms']:.0f} ms", fontsize=9
        )
    figure.suptitle("Logins per second against the argon2 bound", fontsize=10)
    finish(figure, login, path)


def latency_chart(login: list[Run], session: list[Run], path: Path) -> None:
    """p50 and p99 of the cheap requests while logins saturate the CPU (log scale)."""
    rows: list[tuple[str, float, float]] = [
        (f"/healthz under logins\n(argon2 {run['label']})", run["healthz_p50_ms"],
         run["healthz_p99_ms"])
        for run in login
    ]  # fmt: skip
    for run in session:
        rows.append((f"GET /session alone\n({run['label']})", run["alone_p50_ms"],
                     run["alone_p99_ms"]))  # fmt: skip
        rows.append((f"GET /session under logins\n({run['label']})", run["loaded_p50_ms"],
                     run["loaded_p99_ms"]))  # fmt: skip
    figure, axis = plt.subplots(figsize=(7.2, 0.45 * len(rows) + 1.9))
    height = 0.38
    for offset, (name, column) in enumerate((("p50", 1), ("p99", 2))):
        positions = [index + (offset - 0.5) * height for index in range(len(rows))]
        values = [float(row[column]) for row in rows]
        axis.barh(positions, values, height=height, color=COLOURS[offset], label=name)
        for y, value in zip(positions, values, strict=True):
            axis.annotate(f"{value:g} ms", (value, y), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=7)  # fmt: skip
    axis.axvline(10, color="#b00020", linestyle="--", linewidth=0.8,
                 label="GET /session under logins: target p99 < 10 ms")  # fmt: skip
    axis.axvline(20, color="#7f7f7f", linestyle=":", linewidth=0.8,
                 label="/healthz under logins: target p99 < 20 ms")  # fmt: skip
    axis.set_yticks(range(len(rows)), [row[0] for row in rows], fontsize=7)
    axis.invert_yaxis()
    axis.set_xscale("log")
    ticks = [0.5, 1, 2, 5, 10, 20, 50]
    axis.xaxis.set_major_locator(FixedLocator(ticks))
    axis.xaxis.set_minor_locator(NullLocator())
    axis.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
    axis.set_xlim(0.5, 60)
    axis.set_xlabel("milliseconds (log scale)")
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    axis.set_title("Latency percentiles, alone and while logins saturate the CPU", fontsize=10)
    finish(figure, [*login, *session], path)


def sessions_chart(session: list[Run], path: Path) -> None:
    """Session checks per second beside /healthz on the same server and load generator."""
    figure, axis = plt.subplots(figsize=(6.4, 3.4))
    width = 0.38
    for index, run in enumerate(session):
        checks, healthz = run["checks_per_s"], run["healthz_per_s"]
        axis.bar(index - width / 2, healthz, width, color=COLOURS[1],
                 label="/healthz" if index == 0 else None)  # fmt: skip
        axis.bar(index + width / 2, checks, width, color=COLOURS[0],
                 label="GET /session" if index == 0 else None)  # fmt: skip
        axis.plot([index - width, index + width], [0.6 * healthz] * 2, color="#b00020",
                  linestyle="--", linewidth=0.8,
                  label="target: 60 % of /healthz" if index == 0 else None)  # fmt: skip
        axis.annotate(f"{checks:,}/s\n{100 * checks / healthz:.0f} %",
                      (index + width / 2, checks), xytext=(0, 3), textcoords="offset points",
                      ha="center", va="bottom", fontsize=7)  # fmt: skip
    axis.set_xticks(range(len(session)), [wrap(run["label"]) for run in session])
    axis.set_ylabel("requests per second, 8 connections")
    axis.legend(fontsize=7)
    sessions = session[0]["sessions"]
    axis.set_title(f"Session checks against /healthz ({sessions:,} live sessions)", fontsize=10)
    finish(figure, session, path)


def delivery_chart(delivery: list[Run], path: Path) -> None:
    """Commit → provider latency and backlog throughput of the delivery worker, by run."""
    figure, (latency, rate) = plt.subplots(1, 2, figsize=(7.2, 3.4))
    width = 0.38
    labels = [wrap(run["label"]) for run in delivery]
    for offset, (key, name) in enumerate((("latency_median_ms", "median"),
                                          ("latency_p99_ms", "p99"))):  # fmt: skip
        positions = [index + (offset - 0.5) * width for index in range(len(delivery))]
        values = [run[key] for run in delivery]
        latency.bar(positions, values, width, color=COLOURS[offset], label=name)
        for x, value in zip(positions, values, strict=True):
            latency.annotate(f"{value:g}", (x, value), xytext=(0, 2), textcoords="offset points",
                             ha="center", va="bottom", fontsize=7)  # fmt: skip
    latency.set_ylabel("ms, commit → SMTP accepted, idle worker")
    latency.set_ylim(0, 1.3 * max(run["latency_p99_ms"] for run in delivery))
    latency.set_title("Latency (target p99 < 250 ms)", fontsize=9)
    for offset, (key, name) in enumerate((("smtp_msgs_per_s", "SMTP sink"),
                                          ("http_msgs_per_s", "HTTP SMS gateway"))):  # fmt: skip
        positions = [index + (offset - 0.5) * width for index in range(len(delivery))]
        values = [run[key] for run in delivery]
        rate.bar(positions, values, width, color=COLOURS[offset + 2], label=name)
        for x, value in zip(positions, values, strict=True):
            rate.annotate(f"{value:g}", (x, value), xytext=(0, 2), textcoords="offset points",
                          ha="center", va="bottom", fontsize=7)  # fmt: skip
    rate.axhline(200, color="#b00020", linestyle="--", linewidth=0.8, label="target 200/s")
    rate.set_ylabel("messages per second, draining a backlog")
    peak = max(max(run["smtp_msgs_per_s"], run["http_msgs_per_s"]) for run in delivery)
    rate.set_ylim(0, 1.35 * peak)
    rate.set_title("Throughput (target ≥ 200 msg/s)", fontsize=9)
    for axis in (latency, rate):
        axis.set_xticks(range(len(delivery)), labels, fontsize=7)
        axis.legend(fontsize=7, loc="upper left")
    figure.suptitle("Delivery of codes: the worker", fontsize=10)
    finish(figure, delivery, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of *.json")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the SVG files")
    args = parser.parse_args()
    login = load(args.results, "login")
    session = load(args.results, "session")
    delivery = load(args.results, "delivery")
    args.out.mkdir(parents=True, exist_ok=True)
    charts: dict[str, Callable[[Path], None]] = {
        "logins.svg": lambda path: logins_chart(login, path),
        "latency.svg": lambda path: latency_chart(login, session, path),
        "sessions.svg": lambda path: sessions_chart(session, path),
        "delivery.svg": lambda path: delivery_chart(delivery, path),
    }
    for name, draw in charts.items():
        draw(args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
