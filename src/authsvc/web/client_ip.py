"""The client's IP: the peer address, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import functools
import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from authsvc.config import IPNetwork
from authsvc.ops.events import CLIENT_IP
from authsvc.web.dependencies import context_of


@functools.lru_cache(maxsize=4096)
def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parsing costs more than the rest of a request's address handling, and the peers
    (the load balancers) are few: each is parsed once."""
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def is_trusted(address: str, trusted: list[IPNetwork]) -> bool:
    ip = _parsed(address)
    return ip is not None and any(ip in network for network in trusted)


def resolve_client_ip(peer: str, forwarded_for: list[str], trusted: list[IPNetwork]) -> str:
    """Walk X-Forwarded-For from the right, skipping trusted proxies.

    Only hops appended by proxies we trust are believed; anything a client put in
    the header itself is ignored when the peer is not a trusted proxy.
    """
    if not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _parsed(hop) is None:
            break
        if not is_trusted(hop, trusted):
            return hop
    return peer


def client_ip_of(scope: Scope, trusted: list[IPNetwork]) -> str:
    """The client IP of an HTTP request's scope."""
    peer = (scope.get("client") or ("0.0.0.0", 0))[0]  # noqa: S104 - unknown peer
    forwarded = Headers(scope=scope).getlist("x-forwarded-for")
    return resolve_client_ip(peer, forwarded, trusted)


def request_client_ip(request: Request) -> str:
    """The request's client IP: as the request-context middleware found it for every
    request (web.observe), or found again where that did not run."""
    return CLIENT_IP.get() or client_ip_of(
        request.scope, context_of(request).settings.trusted_proxies
    )


async def get_client_ip(request: Request) -> str:  # async: no thread hop
    return request_client_ip(request)


ClientIP = Annotated[str, Depends(get_client_ip)]
