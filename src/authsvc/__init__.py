"""authsvc: two-step login, authorization codes and support verification."""

__version__ = "0.1.0"
