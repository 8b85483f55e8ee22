"""The repository's Markdown files, for the tests that read the docs as a whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not the repository's own text: virtualenvs, caches, build output, installed packages.
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "build", "dist"})


def _walk(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.iterdir()):
        if path.is_dir():
            hidden = path.name.startswith(".") and path.name != ".ci"
            if not (hidden or path.name in SKIPPED_DIRECTORIES or path.suffix == ".egg-info"):
                yield from _walk(path)
        else:
            yield path


def repository_files(*suffixes: str) -> list[Path]:
    """Files of the checkout with one of `suffixes` (`.md`), outside ignored folders."""
    return [path for path in _walk(ROOT) if path.suffix in suffixes]


def markdown_files() -> list[Path]:
    """README.md, CHANGELOG.md, SECURITY.md, docs/**, deploy/**: every `.md` of the checkout."""
    return repository_files(".md")
