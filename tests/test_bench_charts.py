"""The performance page's charts: the benchmarks write their figures as data (--json FILE),
and bench/charts.py draws every chart from the committed data, captioned with its machine
and dates."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CHARTS = ROOT / "docs" / "performance"
# Each chart and a figure of the committed data it must show.
DRAWN = {
    "logins.svg": ("login", "100.5/s"),
    "latency.svg": ("session", "12.8 ms"),
    "sessions.svg": ("session", "957/s"),
    "delivery.svg": ("delivery", "920"),
}


def _bench_common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _captions(benchmark: str) -> list[str]:
    runs = json.loads((RESULTS / f"{benchmark}.json").read_text())["runs"]
    return [f"{run['machine']}, " for run in runs] + [run["date"] for run in runs]


def test_the_chart_script_draws_every_chart_from_the_committed_data(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "charts.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(DRAWN)
    for name, (benchmark, figure) in DRAWN.items():
        svg = (tmp_path / name).read_text()
        ElementTree.fromstring(svg)  # noqa: S314 - well-formed; our own output
        assert figure in svg, f"{name} does not show {figure}"
        for said in _captions(benchmark):
            assert said in svg, f"{name}'s caption lacks {said!r}"


def test_the_committed_charts_are_the_ones_the_performance_page_shows() -> None:
    performance = (ROOT / "docs" / "performance.md").read_text()
    for name, (benchmark, figure) in DRAWN.items():
        svg = (CHARTS / name).read_text()
        assert figure in svg and all(said in svg for said in _captions(benchmark)), name
        assert f"(performance/{name})" in performance, f"docs/performance.md does not show {name}"


def test_a_run_adds_its_figures_to_the_results_file(tmp_path: Path) -> None:
    common = _bench_common()
    results = tmp_path / "login.json"
    common.save_run(results, "login", "m=19 MiB, t=2", {"bound_per_s": 90.0})
    common.save_run(results, "login", "m=64 MiB, t=3", {"bound_per_s": 13.0})
    common.save_run(results, "login", "m=19 MiB, t=2", {"bound_per_s": 99.0})
    saved = json.loads(results.read_text())
    assert saved["benchmark"] == "login"
    assert [(run["label"], run["bound_per_s"]) for run in saved["runs"]] == [
        ("m=64 MiB, t=3", 13.0),
        ("m=19 MiB, t=2", 99.0),
    ]
    run = saved["runs"][1]
    assert "vCPUs" in run["machine"] and len(run["date"]) == 10 and len(run["load_average"]) == 3
    with pytest.raises(SystemExit, match="holds results of 'login'"):
        common.save_run(results, "session", "after", {})
    common.save_run(None, "login", "nowhere", {})  # without --json nothing is written


@pytest.mark.parametrize("script", ["login_bench.py", "session_bench.py", "delivery_bench.py"])
def test_the_benchmarks_take_a_results_file(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--json FILE" in done.stdout and "--label" in done.stdout
