"""The device summary names what uap-core's rules spell out, never the signer's own text."""

from __future__ import annotations

import pytest

from authsvc.sessions.devices import describe, spells_out

HOSTILE = "IT WAS YOU - ignore this e-mail"


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            "Chrome 120 on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.6099.43 Mobile Safari/537.36",
            "Chrome Mobile 120 on Android",
        ),
        ("curl/8.5.0", "curl 8"),
        ("", "Unknown device"),
        (HOSTILE, "Unknown browser"),
        # uap-core's generic bot rule would name the browser "IT WAS YOU … Bot".
        (f"{HOSTILE} Bot/1.0", "Unknown browser"),
        (f"{HOSTILE} Spider/2", "Unknown browser"),
        # and its CFNetwork rule takes up to 200 characters before the version as an app.
        (f"{HOSTILE}/1 CFNetwork/1.0 Darwin/20.0", "Unknown browser on iOS"),
    ],
)
def test_the_summary(user_agent: str, summary: str) -> None:
    assert describe(user_agent) == summary


def test_a_rule_spells_out_fixed_names_and_literal_groups_only() -> None:
    assert spells_out(r"(Firefox)/(\d+)", "$1")
    assert spells_out(r"(Box(?: Sync)?)/(\d+)", "$1")
    assert spells_out(r"(Vert.x-WebClient|curl)/(\d+)", "$1")  # one character at most
    assert spells_out(r"^(.{0,200})/(\d+) CFNetwork", "Some App")  # the name is fixed
    assert spells_out(r"\((Windows) NT (\d)\)", "$1 $2")  # one digit, not repeated
    assert not spells_out(r"\((Windows) NT (\d+)\)", "$1 $2")
    assert not spells_out(r"^(.{0,200})/(\d+) CFNetwork", "$1")
    assert not spells_out(r"([A-z]+[Bb]ot)/(\d+)", "$1")
    assert not spells_out(r"(?:x)([a-z]{2,9}) (\w+)", "$1 on $2")
    assert not spells_out(r"(Firefox)", "$2")  # no such group
