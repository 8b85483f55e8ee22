"""Twilio Programmable Messaging: POST form to the Messages resource, HTTP Basic sid:token.

`AUTHSVC_TWILIO_FROM` is a sender number, or a Messaging Service SID (MG...) to let Twilio
pick the sender. Errors come back as JSON with `code` and `message`.

Twilio's Messages resource takes no idempotency key (its `I-Twilio-Idempotency-Token`
is on the webhooks Twilio sends, not on requests to it): a retry after a crash, or after
an answer lost on the way back, may text the customer twice. The worker's lease and
prompt record keep that to the messages in flight at the moment of the failure.
"""

from __future__ import annotations

from authsvc.delivery.adapters.base import Outgoing
from authsvc.delivery.adapters.http import HttpSmsAdapter, status_error, vendor_message


class TwilioAdapter(HttpSmsAdapter):
    name = "twilio"

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        timeout: float,
        max_connections: int = 32,
    ) -> None:
        super().__init__(timeout=timeout, max_connections=max_connections)
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (account_sid, auth_token)
        self._sender_field = "MessagingServiceSid" if sender.startswith("MG") else "From"
        self._sender = sender

    async def send(self, message: Outgoing) -> None:
        form = {"To": message.recipient, self._sender_field: self._sender, "Body": message.text}
        reply = await self.post(self._url, data=form, auth=self._auth)
        if not reply.ok:
            raise status_error(reply.status, vendor_message(reply, "code", "message"))
