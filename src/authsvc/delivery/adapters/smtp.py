"""E-mail over SMTP with aiosmtplib: plain (local relays), STARTTLS or implicit TLS.

AUTHSVC_SMTP_URL examples:
  smtp://relay.internal:25                         plain, no auth (a local relay)
  smtp://user:pass@smtp.example.com:587?starttls=true
  smtps://user:pass@smtp.example.com:465           implicit TLS
Optional query parameters: `cafile=/path/ca.pem` (a private CA), `timeout=30` (seconds
per SMTP command).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from authsvc.delivery.adapters.base import Adapter, Outgoing
from authsvc.delivery.errors import DeliveryError

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Refusals that are about our own setup (TLS required, bad credentials), not about this
# message: retrying gives an operator the chance to fix it before the message expires.
SETUP_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None = None
    password: str | None = None
    cafile: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        """Parse AUTHSVC_SMTP_URL; ValueError says what is wrong (never echoing the URL)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("the scheme must be smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("a host is required")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "cafile", "timeout"}
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}")
        use_tls = parts.scheme == "smtps"
        starttls = query.get("starttls", "false").lower()
        if starttls not in TRUE + FALSE:
            raise ValueError("starttls must be true or false")
        start_tls = starttls in TRUE
        if use_tls and start_tls:
            raise ValueError("smtps:// is already TLS; starttls=true applies to smtp:// only")
        try:
            timeout = float(query.get("timeout", "30"))
            port = parts.port or (465 if use_tls else 587 if start_tls else 25)
        except ValueError:
            raise ValueError("port and timeout must be numbers") from None
        return cls(
            host=parts.hostname,
            port=port,
            use_tls=use_tls,
            start_tls=start_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            cafile=query.get("cafile"),
            timeout=timeout,
        )

    @property
    def encrypted(self) -> bool:
        return self.use_tls or self.start_tls


def build_email(message: Outgoing, *, sender: str) -> EmailMessage:
    """The MIME message: text plus HTML, a Message-ID derived from the message id."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(addr_spec=message.recipient)
    mail["Subject"] = message.subject or ""
    mail["Date"] = formatdate(usegmt=True)
    # Stable across retries, so a receiving system can drop a duplicate after a crash.
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    mail["Content-Language"] = message.locale  # after set_content, which drops Content-*
    return mail


class SmtpAdapter(Adapter):
    channel = "email"
    name = "smtp"

    def __init__(self, target: SmtpTarget, *, sender: str) -> None:
        self._target = target
        self._sender = sender
        self._envelope_from = parseaddr(sender)[1]
        self._tls_context: ssl.SSLContext | None = None
        self._local_hostname: str | None = None

    async def start(self) -> None:
        if self._target.encrypted:
            self._tls_context = ssl.create_default_context(cafile=self._target.cafile)
        # getfqdn may wait on DNS: once, off the event loop, instead of per connection.
        self._local_hostname = await asyncio.to_thread(socket.getfqdn)

    async def send(self, message: Outgoing) -> None:
        if self._local_hostname is None:
            await self.start()
        target = self._target
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            tls_context=self._tls_context,
            username=target.username,
            password=target.password,
            timeout=target.timeout,
            local_hostname=self._local_hostname,
        )
        mail = build_email(message, sender=self._sender)
        try:
            async with client:
                await client.send_message(
                    mail, sender=self._envelope_from, recipients=[message.recipient]
                )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0]
            raise _refusal(refused.code, refused.message) from None
        except aiosmtplib.SMTPResponseException as error:
            raise _refusal(error.code, error.message) from None
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            raise DeliveryError("timeout", permanent=False) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                "smtp_connection", permanent=False, detail=type(error).__name__
            ) from None


def _refusal(code: int, text: str) -> DeliveryError:
    permanent = 500 <= code < 600 and code not in SETUP_CODES
    return DeliveryError(f"smtp_{code}", permanent=permanent, detail=text)
