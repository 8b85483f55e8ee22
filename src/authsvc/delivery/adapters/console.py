"""Development only: print the message to standard output instead of sending it."""

from __future__ import annotations

import sys

from authsvc.delivery.adapters.base import Adapter, Channel, Outgoing


class ConsoleAdapter(Adapter):
    name = "console"

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, message: Outgoing) -> None:
        lines = [f"----- {self.channel} to {message.recipient} ({message.message_id}) -----"]
        if message.subject is not None:
            lines.append(f"Subject: {message.subject}")
        lines += [message.text.rstrip(), "-" * 20]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
