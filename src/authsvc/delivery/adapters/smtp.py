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
import contextlib
import email.policy
import socket
import ssl
import time
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from authsvc.delivery.adapters.base import Adapter, Outgoing
from authsvc.delivery.errors import DeliveryError

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Refusals that are about our own setup (TLS required, bad credentials), not about this
# message: retrying gives an operator the chance to fix it before the message expires.
SETUP_CODES = frozenset({530, 534, 535, 538})
# Providers commonly cap messages per connection and drop idle ones after a while.
MESSAGES_PER_CONNECTION = 100
IDLE_SECONDS = 15.0


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


# quoted-printable keeps Polish text readable in the raw message and 7-bit clean.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
_UTF8.header_encoding = QP
_SMTP_POLICY = email.policy.compat32.clone(linesep="\r\n")


def build_email(message: Outgoing, *, sender: str) -> bytes | EmailMessage:
    """The MIME message: text plus HTML, a Message-ID derived from the message id.

    Ready bytes, built with the classic (compat32) email API: the modern EmailMessage
    parses every header it is given and re-folds it on output, which cost more CPU than
    the rest of a send (about 1.3 ms against 0.35 ms per message). compat32 checks
    nothing, so header values are checked for line breaks here. An address outside ASCII
    needs SMTPUTF8, which aiosmtplib negotiates for an EmailMessage: that rare case keeps
    the modern API.
    """
    if not (message.recipient.isascii() and parseaddr(sender)[1].isascii()):
        return _international_email(message, sender=sender)
    subject = message.subject or ""
    for value in (sender, message.recipient, subject):
        if "\r" in value or "\n" in value:
            raise ValueError("a header value contains a line break")
    text = MIMEText(message.text, "plain", _UTF8)  # type: ignore[arg-type]
    mail: Message = text
    if message.html is not None:
        html = MIMEText(message.html, "html", _UTF8)  # type: ignore[arg-type]
        mail = MIMEMultipart("alternative", _subparts=[text, html])
    mail["From"] = formataddr(parseaddr(sender), charset="utf-8")
    mail["To"] = message.recipient
    mail["Subject"] = subject if subject.isascii() else Header(subject, _UTF8)  # type: ignore[assignment]
    _stamp(mail, message, sender=sender)
    mail["Content-Language"] = message.locale
    return mail.as_bytes(policy=_SMTP_POLICY)


def _stamp(mail: Message, message: Outgoing, *, sender: str) -> None:
    """The headers every message carries, whichever API built it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mail["Date"] = formatdate(usegmt=True)
    # Stable across retries, so a receiving system can drop a duplicate after a crash.
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please


def _international_email(message: Outgoing, *, sender: str) -> EmailMessage:
    # SMTPUTF8 policy: headers go out as UTF-8. The address is set as text: the
    # Address class refuses a local part outside ASCII, which SMTPUTF8 exists to carry.
    mail = EmailMessage(policy=email.policy.SMTPUTF8)
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject or ""
    _stamp(mail, message, sender=sender)
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    mail["Content-Language"] = message.locale  # after set_content, which drops Content-*
    return mail


@dataclass
class _Connection:
    client: aiosmtplib.SMTP
    sent: int = 0
    idle_since: float = 0.0


class SmtpAdapter(Adapter):
    """Keeps a few connections open between messages: a TLS handshake and AUTH per OTP
    would cost several round trips. Any error discards the connection it happened on."""

    channel = "email"
    name = "smtp"

    def __init__(self, target: SmtpTarget, *, sender: str, max_idle: int = 4) -> None:
        self._target = target
        self._sender = sender
        self._envelope_from = parseaddr(sender)[1]
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._tls_context: ssl.SSLContext | None = None
        self._local_hostname: str | None = None

    async def start(self) -> None:
        if self._target.encrypted:
            self._tls_context = ssl.create_default_context(cafile=self._target.cafile)
        # getfqdn may wait on DNS: once, off the event loop, instead of per connection.
        self._local_hostname = await asyncio.to_thread(socket.getfqdn)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await _quit(connection)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def send(self, message: Outgoing) -> None:
        if self._local_hostname is None:
            await self.start()
        mail = build_email(message, sender=self._sender)
        try:
            reused = self._take_idle()
            if reused is not None:
                try:
                    await self._send_on(reused, mail, message.recipient)
                    return
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    pass  # the server dropped the idle connection before taking anything
            await self._send_on(await self._connect(), mail, message.recipient)
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

    async def _connect(self) -> _Connection:
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
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return _Connection(client)

    async def _send_on(
        self, connection: _Connection, mail: bytes | EmailMessage, recipient: str
    ) -> None:
        client = connection.client
        try:
            if isinstance(mail, bytes):
                await client.sendmail(self._envelope_from, [recipient], mail)
            else:
                await client.send_message(mail, sender=self._envelope_from, recipients=[recipient])
        except BaseException:
            connection.client.close()  # never reuse a connection in an unknown state
            raise
        connection.sent += 1
        self._put_idle(connection)

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recently used is the likeliest alive
            fresh = time.monotonic() - connection.idle_since < IDLE_SECONDS
            if fresh and connection.client.is_connected:
                return connection
            self._close_later(connection)
        return None

    def _put_idle(self, connection: _Connection) -> None:
        now = time.monotonic()
        for stale in [c for c in self._idle if now - c.idle_since >= IDLE_SECONDS]:
            self._idle.remove(stale)
            self._close_later(stale)
        if connection.sent >= MESSAGES_PER_CONNECTION or len(self._idle) >= self._max_idle:
            self._close_later(connection)
            return
        connection.idle_since = now
        self._idle.append(connection)

    def _close_later(self, connection: _Connection) -> None:
        task = asyncio.create_task(_quit(connection))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _quit(connection: _Connection) -> None:
    with contextlib.suppress(Exception):
        if connection.client.is_connected:
            await connection.client.quit(timeout=5)
    connection.client.close()


def _refusal(code: int, text: str) -> DeliveryError:
    permanent = 500 <= code < 600 and code not in SETUP_CODES
    return DeliveryError(f"smtp_{code}", permanent=permanent, detail=text)
