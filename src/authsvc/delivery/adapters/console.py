"""Development only: print the message to standard output instead of sending it, and keep
it in the dev mailbox (delivery/mailbox.py) when one is given."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from authsvc.delivery import mailbox
from authsvc.delivery.adapters.base import Adapter, Channel, Outgoing


class ConsoleAdapter(Adapter):
    name = "console"

    def __init__(self, channel: Channel, mailbox_path: Path | None = None) -> None:
        self.channel = channel
        self.mailbox_path = mailbox_path

    async def send(self, message: Outgoing) -> None:
        lines = [f"----- {self.channel} to {message.recipient} ({message.message_id}) -----"]
        if message.subject is not None:
            lines.append(f"Subject: {message.subject}")
        lines += [message.text.rstrip(), "-" * 20]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        if self.mailbox_path is not None:
            letter = mailbox.Letter(
                message_id=str(message.message_id),
                at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                channel=self.channel,
                to=message.recipient,
                subject=message.subject,
                text=message.text,
            )
            mailbox.append(self.mailbox_path, letter)
