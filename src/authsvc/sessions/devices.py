"""A readable device summary ("Firefox 120 on Windows") from a session's user agent.

ua-parser is the Python port of uap-core, the user-agent rules many analytics tools share:
browsers and systems change faster than a list of our own would be kept up to date.
"""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=1024)
def describe(user_agent: str) -> str:
    if not user_agent.strip():
        return "Unknown device"
    found = parse(user_agent)
    agent, system = found.user_agent, found.os
    browser = agent.family if agent is not None else "Unknown browser"
    if agent is not None and agent.major:
        browser = f"{browser} {agent.major}"
    if system is None or system.family == "Other":
        return browser
    return f"{browser} on {system.family}"
