"""Every request: a request id (returned and on every log line), its client IP for the
auth events raised out of the request's sight, one access line, and the latency histogram
by route template. Pure ASGI, outermost, so it sees every answer."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authsvc.config import IPNetwork
from authsvc.ops.events import CLIENT_IP
from authsvc.ops.logs import REQUEST_ID
from authsvc.ops.metrics import HTTP_DURATION
from authsvc.web.client_ip import client_ip_of, is_trusted

log = logging.getLogger("authsvc.access")

# What we accept from a proxy: short, and nothing that could break a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def route_template(scope: Scope) -> str:
    """`/login/challenges/{challenge_id}`, never the raw path (ids stay out of logs)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_proxies: list[IPNetwork]) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    def _request_id(self, scope: Scope) -> str:
        peer = scope.get("client") or ("", 0)
        offered = Headers(scope=scope).get("x-request-id", "")
        if offered and is_trusted(peer[0], self.trusted_proxies) and _REQUEST_ID.fullmatch(offered):
            return offered
        return uuid.uuid4().hex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        token = REQUEST_ID.set(request_id)
        ip_token = CLIENT_IP.set(client_ip_of(scope, self.trusted_proxies))
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route, method = route_template(scope), scope["method"]
            HTTP_DURATION.labels(route=route, method=method, status=f"{status // 100}xx").observe(
                seconds
            )
            line = {
                "event": "http_request",
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "user_agent": Headers(scope=scope).get("user-agent", "")[:200] or None,
            }
            # Formatted from its own fields, so the text format does not repeat them.
            log.info("%(method)s %(route)s %(status)d %(duration_ms).1fms", line, extra=line)
            CLIENT_IP.reset(ip_token)
            REQUEST_ID.reset(token)
