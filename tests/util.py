"""Small helpers shared by tests of every domain."""

from __future__ import annotations

import socket
from collections.abc import Mapping


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrong(code: str) -> str:
    """A six-digit code that is certainly not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def without_request_id(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers but X-Request-ID, which every response has a fresh one of."""
    return {k: v for k, v in headers.items() if k.lower() != "x-request-id"}
