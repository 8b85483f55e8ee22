"""authsvc: two-step login, authorization codes and support verification."""

from importlib.metadata import PackageNotFoundError, version

# One version, pyproject.toml's; CHANGELOG.md's newest release names it too
# (tests/test_changelog.py).
try:
    __version__ = version("authsvc")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
