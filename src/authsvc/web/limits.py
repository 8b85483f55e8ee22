"""The request body limit: 413 before a larger body is read, announced or not."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authsvc.web.problem import PayloadTooLarge, error_response


def _detail(limit: int) -> str:
    return f"The request body exceeds {limit} bytes."


class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413 `payload_too_large`.

    A `Content-Length` over the limit is answered at once, without reading a byte of the
    body; a body without one (chunked) is counted as the app reads it, and the read that
    crosses the limit raises an HTTPException, which FastAPI passes on to the problem
    handlers untouched. Pure ASGI: no buffering of its own.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            # A malformed Content-Length never gets here: the HTTP server refuses it.
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = error_response(PayloadTooLarge(_detail(limit)))
                # The unread body stays unread: close the connection rather than drain it.
                response.headers["Connection"] = "close"
                await response(scope, receive, send)
                return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(
                        PayloadTooLarge.status, _detail(limit), headers={"Connection": "close"}
                    )
            return message

        await self.app(scope, counting_receive, send)
