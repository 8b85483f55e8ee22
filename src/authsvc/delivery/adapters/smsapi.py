"""SMSAPI.pl: POST form to /sms.do with a Bearer token, answer asked for as JSON.

SMSAPI reports many refusals as HTTP 200 with `{"error": <code>, "message": ...}`, so a
2xx is only a success when the body carries no error code.

Every attempt of one message sends the same `idx` (the outbox row's id) with
`check_idx=1`: SMSAPI then refuses to send an idx it has already sent, so a retry after a
crash (or after an answer lost on the way back) cannot text the customer twice. That
refusal means the first attempt went out, so it counts as sent.
"""

from __future__ import annotations

from authsvc.delivery.adapters.base import Outgoing
from authsvc.delivery.adapters.http import HttpSmsAdapter, status_error, vendor_message
from authsvc.delivery.errors import DeliveryError

# SMSAPI error codes worth retrying: internal errors, overload and rate limits, and
# missing credit (an operator can top up within the message's lifetime). Every other
# code (bad number, blacklisted, message too long, bad sender name...) will not improve.
TRANSIENT_CODES = frozenset({52, 103, 200, 201, 202, 203, 999})
# "Not unique idx": a message with this idx was already sent (check_idx=1).
ALREADY_SENT = 53


class SmsapiAdapter(HttpSmsAdapter):
    name = "smsapi"

    def __init__(
        self,
        *,
        url: str,
        token: str,
        sender: str | None,
        timeout: float,
        max_connections: int = 32,
    ) -> None:
        super().__init__(timeout=timeout, max_connections=max_connections)
        self._url = url
        self._token = token
        self._sender = sender

    async def send(self, message: Outgoing) -> None:
        form = {
            "to": message.recipient.removeprefix("+"),
            "message": message.text,
            "format": "json",
            "encoding": "utf-8",
            "idx": str(message.message_id),
            "check_idx": "1",
        }
        if self._sender:
            form["from"] = self._sender
        reply = await self.post(
            self._url, data=form, headers={"Authorization": f"Bearer {self._token}"}
        )
        if not reply.ok:
            raise status_error(reply.status, vendor_message(reply, "error", "message"))
        data = reply.json()
        if not isinstance(data, dict):
            raise DeliveryError("smsapi_bad_reply", permanent=False, detail=reply.text())
        # A per-recipient error may sit in the list even when the request as a whole passed.
        items = data.get("list")
        item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        code = data.get("error") or item.get("error")
        if code == ALREADY_SENT:
            return  # an earlier attempt of this message went out
        if code:
            permanent = not (isinstance(code, int) and code in TRANSIENT_CODES)
            detail = str(data.get("message") or item.get("message") or "")
            raise DeliveryError(f"smsapi_{code}", permanent=permanent, detail=detail)
