"""The generic SMS webhook: POST JSON, Bearer token, any 2xx is success.

Every attempt of one message carries the same `Idempotency-Key` (the outbox row's id, as
`message_id` in the body): a retry after a crash or a lost answer can be recognised as a
repeat by a gateway that honours the key (the IETF draft's header, as Stripe uses it).
"""

from __future__ import annotations

from authsvc.delivery.adapters.base import Outgoing
from authsvc.delivery.adapters.http import HttpSmsAdapter, status_error, vendor_message


class WebhookSmsAdapter(HttpSmsAdapter):
    name = "webhook"

    def __init__(self, *, url: str, token: str | None, timeout: float, max_connections: int = 32):
        super().__init__(timeout=timeout, max_connections=max_connections)
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def send(self, message: Outgoing) -> None:
        reply = await self.post(
            self._url,
            json={
                "to": message.recipient,
                "text": message.text,
                "message_id": str(message.message_id),
            },
            headers={**self._headers, "Idempotency-Key": str(message.message_id)},
        )
        if not reply.ok:
            raise status_error(reply.status, vendor_message(reply, "error", "message", "detail"))
