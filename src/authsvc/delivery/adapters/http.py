"""What the SMS-over-HTTP adapters share: a pooled client, a timeout, a capped read.

Any non-2xx is a failure: 4xx is permanent (the request itself is wrong) except 408 and
429, which like 5xx, timeouts and connection errors are worth retrying.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

import authsvc
from authsvc.delivery.adapters.base import Adapter
from authsvc.delivery.errors import DeliveryError

RESPONSE_LIMIT = 64 * 1024  # a gateway's answer is small; never buffer more than this
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def status_error(status: int, detail: str) -> DeliveryError:
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return DeliveryError(f"http_{status}", permanent=permanent, detail=detail)


class HttpSmsAdapter(Adapter):
    channel = "sms"

    def __init__(self, *, timeout: float, max_connections: int = 32) -> None:
        self._timeout = timeout
        self._max_connections = max_connections
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self._timeout,
            limits=httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            ),
            follow_redirects=False,
            # Uncompressed, so the byte cap below is a cap on what we hold in memory.
            headers={"User-Agent": f"authsvc/{authsvc.__version__}", "Accept-Encoding": "identity"},
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(self, url: str, **kwargs: Any) -> Reply:
        """POST, read at most RESPONSE_LIMIT bytes back; transport trouble is transient."""
        if self._client is None:
            await self.start()
        assert self._client is not None
        try:
            async with self._client.stream("POST", url, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk[: RESPONSE_LIMIT - len(body)]
                    if len(body) >= RESPONSE_LIMIT:
                        break
                return Reply(response.status_code, bytes(body))
        except httpx.TimeoutException:
            raise DeliveryError("timeout", permanent=False) from None
        except httpx.HTTPError as error:
            raise DeliveryError(
                "connection_error", permanent=False, detail=type(error).__name__
            ) from None


def vendor_message(reply: Reply, *keys: str) -> str:
    """The provider's own words: a JSON field when there is one, else the start of the body."""
    data = reply.json()
    if isinstance(data, dict):
        found = [f"{data[key]}" for key in keys if data.get(key) not in (None, "")]
        if found:
            return " ".join(found)
    return reply.text()[:300]
