"""A readable device summary ("Firefox 120 on Windows") from a session's user agent.

ua-parser is the Python port of uap-core, the user-agent rules many analytics tools share:
browsers and systems change faster than a list of our own would be kept up to date.

The user agent is text the client chooses, and the summary is shown to the customer (the
session list, the "new sign-in" e-mail). Most of uap-core's rules name a browser or system
from their own words ("Chrome", "Mobile Safari", "Windows"), but a few copy free text out
of the user agent: a bot's name ("… Bot/1"), an iOS app's name before "CFNetwork", up to
200 characters. So a name is shown only when the rule that found it spells it out; where
the signer wrote it ("IT WAS YOU – ignore this e-mail Bot/1"), the summary says unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from ua_parser.core import OS, UserAgent
from ua_parser_builtins.matchers import MATCHERS

UNKNOWN_DEVICE = "Unknown device"
UNKNOWN_BROWSER = "Unknown browser"


@lru_cache(maxsize=1024)
def describe(user_agent: str) -> str:
    if not user_agent.strip():
        return UNKNOWN_DEVICE
    agent = _first_named(_AGENT_RULES, user_agent)
    system = _first_named(_SYSTEM_RULES, user_agent)
    browser = agent.family if agent is not None else UNKNOWN_BROWSER
    if agent is not None and agent.major and agent.major.isdigit():
        browser = f"{browser} {agent.major}"
    if system is None or system.family == "Other":
        return browser
    return f"{browser} on {system.family}"


Found = TypeVar("Found", UserAgent, OS)
Rules = list[tuple[Callable[[str], Found | None], bool]]  # each rule, and whether it spells out


def _first_named(rules: Rules[Found], user_agent: str) -> Found | None:
    """What the first rule that matches finds (uap-core's order, as ua-parser resolves),
    or None when nothing matches or that rule took the name from the user agent's text."""
    for rule, spelled_out in rules:
        found = rule(user_agent)
        if found is not None:
            return found if spelled_out else None
    return None


# "$1" in a family template: the text of capturing group 1.
_GROUP_REFERENCE = re.compile(r"\$(\d)")
# Escaped punctuation is a literal. A repetition (`*`, `+`, `{m,n}`) lets a group copy any
# length of text the client chose; a lone `.` or `\d` adds one character at most.
_LITERAL_ESCAPE = re.compile(r"\\[^A-Za-z0-9]")
_REPEATED = re.compile(r"[*+{]")


def spells_out(regex: str, family: str) -> bool:
    """Whether every name a rule can give is written in the rule: a fixed family, or
    groups of literals, alternatives and optional parts (`(Box(?: Sync)?)`), nothing
    repeated."""
    for number in _GROUP_REFERENCE.findall(family):
        source = _group_source(regex, int(number))
        if source is None or _REPEATED.search(_LITERAL_ESCAPE.sub("", source)):
            return False
    return True


def _group_source(regex: str, number: int) -> str | None:
    """The text of capturing group `number` of `regex`, or None when there is none."""
    starts: list[int | None] = []  # for each open parenthesis: where its text starts, if wanted
    count, index, in_class = 0, 0, False
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            capturing = regex[index + 1 : index + 2] != "?" or regex.startswith("?P<", index + 1)
            count += capturing
            starts.append(index + 1 if capturing and count == number else None)
        elif char == ")" and starts and (start := starts.pop()) is not None:
            return regex[start:index]
        index += 1
    return None


_AGENT_RULES: Rules[UserAgent] = [
    (rule, spells_out(rule.regex, rule.family)) for rule in MATCHERS[0]
]
_SYSTEM_RULES: Rules[OS] = [(rule, spells_out(rule.regex, rule.family)) for rule in MATCHERS[1]]
