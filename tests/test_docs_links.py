"""Every relative link and image in the repository's Markdown files reaches a file that
exists, and every `#anchor` a heading (or an explicit `<a id>`) of its target, by GitHub's
rules for heading ids. External links (http, https, mailto) are not fetched."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs import ROOT, markdown_files

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_TARGET = re.compile(r"<(?:a|img|source)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.I)
HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:id|name)=\"([^\"]+)\"", re.I)
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
LINE_ANCHOR = re.compile(r"^L\d+(-L\d+)?$")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1."""
    lines, fence = [], ""
    for number, line in enumerate(text.splitlines(), start=1):
        opened = FENCE.match(line)
        if fence:
            if opened and opened[1][0] == fence[0] and len(opened[1]) >= len(fence):
                fence = ""
        elif opened:
            fence = opened[1]
        else:
            lines.append((number, line))
    return lines


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of each inline link, image, reference definition and HTML link."""
    found = []
    for number, line in prose_lines(text):
        # Code spans show link syntax rather than make links; keep their length for columns.
        line = CODE_SPAN.sub(lambda span: "x" * len(span[0]), line)
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_TARGET):
            found += [(number, target.strip("<>")) for target in pattern.findall(line)]
    return found


def heading_text(raw: str) -> str:
    """A heading as GitHub renders it: link texts without their targets, code without
    backticks, HTML tags and emphasis marks dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("`", "")


def slug(heading: str) -> str:
    """GitHub's id for a heading (github-slugger): lower-case; letters, marks, digits,
    `_`, `-` and spaces kept, every other character dropped; each space a `-`."""
    kept = (
        char
        for char in heading_text(heading).strip().lower()
        if char in " -_" or unicodedata.category(char)[0] in "LMN"
    )
    return "".join(kept).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The ids a link may name in `path`: its headings' (a repeated one gets `-1`, `-2`)
    and explicit ones (`<a id="...">`, `<a name="...">`)."""
    seen: dict[str, int] = {}
    ids: set[str] = set()
    text = path.read_text("utf-8")
    previous = ""
    for _, line in prose_lines(text):
        heading = None
        if found := ATX_HEADING.match(line):
            heading = found[2]
        elif (
            SETEXT_UNDERLINE.match(line)
            and previous.strip()
            and not previous.lstrip().startswith(("|", "-", "*", ">", "#"))
        ):
            heading = previous.strip()
        if heading is not None:
            base = slug(heading)
            count = seen.get(base, 0)
            seen[base] = count + 1
            ids.add(base if count == 0 else f"{base}-{count}")
        ids.update(HTML_ANCHOR.findall(line))
        previous = line
    return frozenset(ids)


def problems(source: Path) -> list[str]:
    """What is wrong with `source`'s relative links, one line each."""
    found = []
    for number, target in links(source.read_text("utf-8")):
        if SCHEME.match(target) or target.startswith("//"):
            continue  # an external link: not fetched
        path_part, _, fragment = target.partition("#")
        path_part = unquote(path_part.split("?")[0])
        if not path_part:
            resolved = source
        elif path_part.startswith("/"):  # GitHub reads these from the repository's root
            resolved = (ROOT / path_part.lstrip("/")).resolve()
        else:
            resolved = (source.parent / path_part).resolve()
        where = f"{source.relative_to(ROOT)}:{number}: {target}"
        if not resolved.is_relative_to(ROOT):
            found.append(f"{where}: points outside the repository")
        elif not resolved.exists():
            found.append(f"{where}: {resolved.relative_to(ROOT)} does not exist")
        elif fragment:
            fragment = unquote(fragment)
            if resolved.suffix == ".md":
                if fragment not in anchors(resolved):
                    found.append(f"{where}: no heading or anchor #{fragment} there")
            elif not (resolved.is_file() and LINE_ANCHOR.match(fragment)):
                found.append(f"{where}: #{fragment} names nothing in a file that is not Markdown")
    return found


def test_github_heading_ids() -> None:
    assert slug("Delivery of codes and notices") == "delivery-of-codes-and-notices"
    assert slug("`authsvc --version` prints it") == "authsvc---version-prints-it"
    assert slug("V6: Authentication (ASVS 5.0)") == "v6-authentication-asvs-50"
    assert slug("What's *new*, é & [linked](x.md)") == "whats-new-é--linked"
    assert slug("snake_case stays") == "snake_case-stays"


def test_broken_links_and_anchors_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(
        '# A\n\n## Twice\n\n## Twice\n\n<a id="here"></a>\n\nSetext\n------\n', "utf-8"
    )
    (tmp_path / "x.png").write_bytes(b"")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/a.md#twice-1) [ok](docs/a.md#here) [ok](docs/a.md#setext) ![ok](x.png)\n"
        '[ok](#top "title") [ok](https://example.com/nowhere.md) `[not a link](gone.md)`\n'
        "# Top\n\n"
        "[gone](docs/b.md) [no anchor](docs/a.md#twice-2) ![gone](y.png)\n"
        '<img src="z.png" alt=""> [ref]: docs/c.md\n\n[ref]: docs/c.md\n'
        "```sh\n[in code](gone.md)\n```\n",
        "utf-8",
    )
    assert problems(readme) == [
        "README.md:5: docs/b.md: docs/b.md does not exist",
        "README.md:5: docs/a.md#twice-2: no heading or anchor #twice-2 there",
        "README.md:5: y.png: y.png does not exist",
        "README.md:6: z.png: z.png does not exist",
        "README.md:8: docs/c.md: docs/c.md does not exist",
    ]


@pytest.mark.parametrize("source", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(source: Path) -> None:
    broken = problems(source)
    assert not broken, "broken links:\n" + "\n".join(broken)
