"""Real local servers that play the outside world: an SMTP server and SMS gateways.

Nothing here mocks the network: the adapters talk TCP (and TLS) to these servers.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.util import free_port

# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password


Reply = tuple[int, Any]  # status, JSON-able payload (or bytes)
Behaviour = Callable[[Request], Reply]


class FakeGateway:
    """A small HTTP/1.1 server (keep-alive, Content-Length bodies) on 127.0.0.1.

    `behaviour` plays a provider; `fail_next(500, 500)` makes the next requests fail
    first; `delay` holds every answer back (for timeouts).
    """

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour: Behaviour = behaviour or (lambda request: (200, {"ok": True}))
        self.requests: list[Request] = []
        self.delay = 0.0
        self.in_flight = self.max_in_flight = 0
        self._script: list[Reply] = []
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, *statuses: int, payload: Any = None) -> None:
        self._script.extend((status, payload or {"error": "down"}) for status in statuses)

    def always(self, status: int, payload: Any = None) -> None:
        self.behaviour = lambda request: (status, payload if payload is not None else {})

    async def start(self) -> FakeGateway:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, path, headers, body)
                self.requests.append(request)
                status, payload = self._script.pop(0) if self._script else self.behaviour(request)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                finally:
                    self.in_flight -= 1
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                head = (
                    f"HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                writer.write(head.encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()


def webhook_behaviour(token: str) -> Behaviour:
    def reply(request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {token}":
            return 401, {"error": "unauthorized"}
        body = request.json()
        if set(body) != {"to", "text", "message_id"}:
            return 422, {"error": f"bad fields {sorted(body)}"}
        return 202, {"accepted": True}

    return reply


def smsapi_behaviour(token: str, sent_idx: set[str] | None = None) -> Behaviour:
    """What SMSAPI.pl answers on /sms.do (format=json); with `check_idx=1`, an `idx`
    already sent (kept in `sent_idx`) is refused with error 53 and not sent again."""
    sent = sent_idx if sent_idx is not None else set()

    def reply(request: Request) -> Reply:
        if request.path != "/sms.do" or request.method != "POST":
            return 404, {"error": 404, "message": "Not found"}
        if request.headers.get("authorization") != f"Bearer {token}":
            return 401, {"error": 101, "message": "Authorization failed"}
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return 200, {"error": 8, "message": "Error in request"}
        form = request.form()
        if not form.get("to", "").isdigit():
            return 200, {"error": 13, "message": "No correct phone numbers"}
        if form.get("format") != "json" or "message" not in form:
            return 200, {"error": 8, "message": "Error in request"}
        idx = form.get("idx")
        if idx is not None and form.get("check_idx") == "1":
            if idx in sent:
                return 200, {"error": 53, "message": "Not unique idx, message already sent"}
            sent.add(idx)
        item = {"id": uuid.uuid4().hex, "points": 0.16, "number": form["to"], "status": "QUEUE"}
        return 200, {"count": 1, "list": [{**item, "error": None}]}

    return reply


def twilio_behaviour(sid: str, token: str) -> Behaviour:
    """What Twilio's Messages resource answers."""

    def reply(request: Request) -> Reply:
        if request.path != f"/2010-04-01/Accounts/{sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found"}
        if request.basic_auth() != (sid, token):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        form = request.form()
        if not form.get("To", "").startswith("+"):
            return 400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}
        if not (form.get("From") or form.get("MessagingServiceSid")) or not form.get("Body"):
            return 400, {"code": 21603, "message": "A 'From' phone number is required."}
        return 201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "error_code": None}

    return reply


# --- SMTP ------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple[str, int]  # the client's address: one per connection


@dataclass
class SmtpSink:
    """An aiosmtpd handler that keeps what it accepts; can refuse recipients or stall."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    delay: float = 0.0
    # Replies for the next DATA commands, given after the message is kept: the server has
    # it, the sender sees a failure (an answer lost on the way back) and sends it again.
    fail_after_data: list[str] = field(default_factory=list)
    data_started: threading.Event = field(default_factory=threading.Event)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_started.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, session.peer)
        self.messages.append(received)
        if self.fail_after_data:
            return self.fail_after_data.pop(0)
        return "250 Message accepted for delivery"

    def by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for received in self.messages:
            key = str(received.message["Message-ID"]).strip("<>").split("@")[0]
            counts[key] = counts.get(key, 0) + 1
        return counts


def start_smtp(sink: SmtpSink, **smtp_parameters: Any) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **smtp_parameters)
    controller.start()
    return controller


def password_checker(user: str, password: str, sink: SmtpSink) -> Callable[..., AuthResult]:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            user,
            password,
        ):
            sink.logins.append(user)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return authenticate


# --- TLS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(folder: Path) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authsvc test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    found.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found
