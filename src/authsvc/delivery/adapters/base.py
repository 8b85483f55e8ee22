"""The one interface every adapter implements, and what it is handed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

Channel = Literal["email", "sms"]


@dataclass(frozen=True)
class Outgoing:
    """A rendered message, ready for the wire."""

    message_id: uuid.UUID
    recipient: str
    locale: str
    text: str
    subject: str | None = None  # e-mail only
    html: str | None = None  # e-mail only


class Adapter:
    """Sends one message; raises DeliveryError (permanent or not) when it cannot."""

    channel: Channel
    name: str  # the provider, for logs

    async def start(self) -> None:
        """Open what the adapter keeps for its lifetime (connection pools)."""

    async def send(self, message: Outgoing) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what start() opened."""
