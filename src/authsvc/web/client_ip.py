"""The client's IP: the peer address, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from authsvc.config import IPNetwork
from authsvc.web.dependencies import Context, context_of


def is_trusted(address: str, trusted: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def resolve_client_ip(peer: str, forwarded_for: list[str], trusted: list[IPNetwork]) -> str:
    """Walk X-Forwarded-For from the right, skipping trusted proxies.

    Only hops appended by proxies we trust are believed; anything a client put in
    the header itself is ignored when the peer is not a trusted proxy.
    """
    if not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        if not is_trusted(hop, trusted):
            return hop
    return peer


def client_ip_of(scope: Scope, trusted: list[IPNetwork]) -> str:
    """The client IP of an HTTP request's scope."""
    peer = (scope.get("client") or ("0.0.0.0", 0))[0]  # noqa: S104 - unknown peer
    forwarded = Headers(scope=scope).getlist("x-forwarded-for")
    return resolve_client_ip(peer, forwarded, trusted)


async def get_client_ip(request: Request, ctx: Context) -> str:  # async: no thread hop
    return client_ip_of(request.scope, ctx.settings.trusted_proxies)


def request_client_ip(request: Request) -> str:
    """`ClientIP` for a dependency that reads the request itself (the session check)."""
    return client_ip_of(request.scope, context_of(request).settings.trusted_proxies)


ClientIP = Annotated[str, Depends(get_client_ip)]
