"""Settings, read from `AUTHSVC_*` environment variables.

Every security rule has its own variable; durations accept plain seconds
(`AUTHSVC_LOGIN_OTP_TTL=600`) or ISO 8601 (`PT10M`). The delivery settings are checked
by the delivery package itself (`startup.startup_settings` runs both checks).
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import platformdirs
from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# OWASP Password Storage Cheat Sheet: argon2id with m=19 MiB, t=2, p=1 is the floor.
ARGON2_MIN_MEMORY_KIB = 19 * 1024
ARGON2_MIN_TIME_COST = 2
# The default is RFC 9106's recommendation for memory-constrained servers (m=64 MiB, t=3;
# also argon2-cffi's default profile), with one lane: each verification is one thread of
# our pool. Three times the floor's memory makes every guess on a stolen hash dearer, and
# at ~100 ms per login the hash, not the service around it, sets the login capacity.
ARGON2_DEFAULT_MEMORY_KIB = 64 * 1024
ARGON2_DEFAULT_TIME_COST = 3
SECRET_KEY_MIN_LENGTH = 32
# Context-specific words (NIST SP 800-63B 5.1.1.2, ASVS 5.0 V6.1.2): the service's own names.
DEFAULT_PASSWORD_CONTEXT_WORDS = ("authsvc", "client panel", "panel klienta")
PASSWORD_MAX_LENGTH_FLOOR = 64
DEFAULT_SHUTDOWN_DRAIN = timedelta(seconds=5)  # outside dev mode

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _seconds(value: object) -> object:
    """`600` in the environment means 600 seconds (ISO 8601 such as `PT10M` works too)."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


DEFAULT_SMS_COUNTRIES = "PL"


def parse_countries(value: object) -> list[str]:
    """ISO 3166 country codes (`PL`, `pl, de`), upper-cased, each one `phonenumbers` knows;
    ValueError names the first unknown one. Also read by migration 0009."""
    items = _split_commas(value)
    if not isinstance(items, list):
        raise ValueError("expected comma-separated country codes such as PL,DE")
    countries = [str(item).strip().upper() for item in items]
    for country in countries:
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{country!r} is not a country code (use ISO 3166 codes such as PL)")
    if not countries:
        raise ValueError("name at least one (SMS is turned off by AUTHSVC_SMS_BUDGET_SERVICE=0)")
    return list(dict.fromkeys(countries))


class Settings(BaseSettings):
    """Each field's docstring is its meaning in docs/configuration.md, whose reference
    `authsvc config-reference` generates from this class (every field needs one)."""

    model_config = SettingsConfigDict(
        env_prefix="AUTHSVC_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    # --- running -------------------------------------------------------------
    env: Literal["dev", "prod"] | None = None
    """`dev` allows console delivery, a generated secret key, the embedded PostgreSQL,
    `/docs` and the plain-HTTP cookie; `prod` refuses them."""
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("authsvc"))
    """The embedded PostgreSQL's data, the dev secret key and the dev mailbox."""
    host: str = "127.0.0.1"
    """Where `authsvc serve` listens (`--host` overrides it)."""
    port: int = Field(default=8000, ge=1, le=65535)
    """The port `authsvc serve` listens on (`--port` overrides it)."""
    workers: int = Field(default=1, ge=1, le=64)
    """Processes `authsvc serve` runs (`--workers` overrides it); each takes its share of
    `AUTHSVC_ARGON2_THREADS`."""
    shutdown_drain: Duration | None = Field(default=None, ge=timedelta(0), le=timedelta(minutes=5))
    """On SIGTERM, how long `authsvc serve` answers `/readyz` with 503 while still serving
    every request, so a load balancer's health checks take it out of rotation before it
    stops accepting; then requests in flight finish and it exits. Make it exceed the
    balancer's check interval × its failure count. `deploy/kubernetes/` sets 0 (a
    terminating pod leaves its Service at once; the preStop pause covers the rest).
    Ctrl-C (SIGINT), or a second SIGTERM, never waits."""
    migrate_on_start: bool = False
    """Let `authsvc serve` migrate a database whose schema is behind (else it refuses to
    start); set it on one replica at most."""
    run_delivery_worker: bool = True
    """Run the delivery worker inside `authsvc serve`; `false` when `authsvc worker` runs
    it alone."""

    # --- database ------------------------------------------------------------
    database_url: SecretStr | None = None
    """PostgreSQL, as `postgresql+asyncpg://user:pass@host:5432/db` (or PgBouncer in front
    of it, see `AUTHSVC_DATABASE_POOLER`)."""
    database_pooler: Literal["none", "session", "transaction"] = "none"
    """What `AUTHSVC_DATABASE_URL` reaches: `none` (PostgreSQL) or `session` (a
    session-pooling proxy) change nothing; `transaction` is PgBouncer in transaction
    pooling mode, where a connection is another server's at each transaction: no prepared
    statement is kept or named, and LISTEN goes to `AUTHSVC_DATABASE_DIRECT_URL`."""
    database_direct_url: SecretStr | None = None
    """PostgreSQL itself, past the pooler: the delivery worker LISTENs there and
    `authsvc migrate` migrates there. Behind a transaction pooler without it, the worker
    polls every `AUTHSVC_DELIVERY_POLL_INTERVAL` (its start-up log line says which)."""
    db_pool_size: int = Field(default=10, ge=1, le=200)
    """Database connections per process (and as many again in overflow)."""

    # --- logs and metrics ----------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Logs go to standard error with UTC times; `authsvc -v` gives a one-shot command
    `info` too."""
    log_format: Literal["json", "text"] | None = None
    """One JSON object per line, or text for a terminal."""
    metrics_token: SecretStr | None = None
    """Bearer token `GET /metrics` asks for; unset, `/metrics` is open in dev mode and
    refused in production."""

    # --- secrets -------------------------------------------------------------
    secret_key: SecretStr | None = None
    """Keys the HMACs of stored codes, device cookies and e-mailed links, and seals stored
    secrets (queued codes, authenticator keys). At least 32 characters each; several keys
    separated by commas rotate: the first signs, all verify."""

    # --- HTTP ------------------------------------------------------------------
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Origins of the Client Panel (`https://panel.example.com`), allowed by CORS and by
    the CSRF check."""
    public_url: str | None = None
    """Where browsers reach this service: links in e-mails start with it, its origin
    passes the CSRF check (so the pages work same-origin), and its host is the passkeys'
    relying party."""
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    """Networks (`10.0.0.0/8`, `127.0.0.1`) whose `X-Forwarded-For` is believed for the
    client IP."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    """Larger request bodies get `413 payload_too_large` before they are read; ours are a
    few hundred bytes."""
    hsts_max_age: Duration = Field(default=timedelta(days=365), ge=timedelta(0))
    """Outside dev mode every response carries `Strict-Transport-Security:
    max-age=…`; `0` sends none (e.g. when the proxy sends it)."""

    # --- pages (issue 11) ---------------------------------------------------------
    panel_enabled: bool = True
    """Serve the Client Panel's pages (`/panel/`), the support console (`/support/`) and
    their `/assets/` from authsvc itself."""

    # --- passwords -----------------------------------------------------------
    argon2_memory_kib: int = Field(default=ARGON2_DEFAULT_MEMORY_KIB, ge=ARGON2_MIN_MEMORY_KIB)
    """argon2id memory per hash, RFC 9106's choice for memory-constrained servers; OWASP's
    floor (19456) is the minimum. Each verification running holds it, so allow 64 MiB per
    CPU. Stored hashes are upgraded at the next login."""
    argon2_time_cost: int = Field(default=ARGON2_DEFAULT_TIME_COST, ge=ARGON2_MIN_TIME_COST)
    """argon2id passes (OWASP's floor, 2, is the minimum)."""
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    """argon2id lanes: one, so each verification is one thread of the pool."""
    argon2_threads: int | None = Field(default=None, ge=1, le=256)
    """argon2 hashes that may run at once (the thread pool). Unset, it is computed at
    start from the cgroup v2 limits: the CPU quota in `cpu.max` rounded up (divided by
    `AUTHSVC_ARGON2_PARALLELISM`), and no more hashes than half of `memory.max` holds;
    without a quota, the CPUs the process may run on; each of `AUTHSVC_WORKERS` processes
    takes its share. Never the host's CPU count, which in a container can be many times
    the quota."""
    password_min_length: int = Field(default=8, ge=8)
    """Shortest password accepted (15 or more characters are recommended to customers)."""
    password_max_length: int = Field(default=128, ge=PASSWORD_MAX_LENGTH_FLOOR)
    """Longest password accepted (at least 64, as NIST SP 800-63B asks)."""
    password_context_words: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_PASSWORD_CONTEXT_WORDS)
    )
    """Words of this service that a password may not be built on, comma-separated (set the
    provider's and the panel's names here): a password holding one of them needs the
    minimum length besides it (`Hostingname2024!` is refused, a long passphrase that
    mentions the name is not). Compared without regard to case; words under 3 characters
    are ignored."""
    argon2_max_waiting: int = Field(default=16, ge=0)
    """argon2 verifications allowed to wait for a thread before `/login` sheds load with
    `503 overloaded`."""

    # --- login ---------------------------------------------------------------
    login_otp_ttl: Duration = timedelta(minutes=10)
    """Lifetime of a login code (and of its challenge)."""
    login_otp_max_attempts: int = Field(default=5, ge=1)
    """Wrong codes before the challenge is dead."""
    login_otp_max_resends: int = Field(default=3, ge=0)
    """Codes a challenge may send again."""
    login_otp_resend_cooldown: Duration = timedelta(seconds=30)
    """The wait between two sends of a challenge's code."""

    # --- sessions ------------------------------------------------------------
    session_idle_timeout: Duration = timedelta(minutes=30)
    """A session unused this long ends (enforced on the server)."""
    session_absolute_lifetime: Duration = timedelta(hours=12)
    """A session ends this long after its login, however busy."""
    session_touch_interval: Duration = timedelta(seconds=60)
    """A session check writes the session's last use (sliding its idle expiry) only when
    the stored one is older than this; other checks only read. An idle session then ends
    up to this much before the idle timeout after its true last use, never later;
    `GET /sessions` shows last use to within it. Shorter than the idle timeout; `0` writes
    at every check."""

    # --- throttling ----------------------------------------------------------
    throttle_free_failures: int = Field(default=3, ge=0)
    """Wrong passwords per login name (and per device cookie) before the back-off: a
    person mistypes a few times, then waits."""
    throttle_base_delay: Duration = timedelta(seconds=1)
    """The first wait after the free failures; each further failure doubles it."""
    throttle_max_delay: Duration = timedelta(minutes=15)
    """The cap on the doubling wait."""
    throttle_window: Duration = timedelta(hours=1)
    """A quiet window this long forgets a login's failures."""
    throttle_ip_free_failures: int = Field(default=50, ge=0)
    """Wrong passwords per client IP before its back-off, sized for shared addresses (an
    office NAT, a carrier's CGNAT): dozens of customers who each mistype once do not block
    each other, while one address guessing across many logins meets the back-off."""
    throttle_ip_base_delay: Duration = timedelta(seconds=1)
    """The first wait of a client IP's back-off; each further failure doubles it."""
    throttle_ip_max_delay: Duration = timedelta(minutes=15)
    """The cap on a client IP's doubling wait."""
    throttle_ip_window: Duration = timedelta(hours=1)
    """A quiet window this long forgets a client IP's failures; also the window of
    `AUTHSVC_PASSKEY_IP_LIMIT`."""
    device_cookie_lifetime: Duration = timedelta(days=365)
    """The signed cookie of a browser that completed a login (OWASP's device cookies),
    whose own back-off spares it an attacker's lockout of its login."""

    # --- account protection -------------------------------------------------------
    not_me_link_ttl: Duration = timedelta(days=7)
    """"This wasn't me" links in the notices (new sign-in, code generated, changes)."""
    password_reset_ttl: Duration = timedelta(minutes=10)
    """Lifetime of a password reset code."""
    password_reset_max_attempts: int = Field(default=5, ge=1)
    """Wrong reset codes before the reset is dead."""
    password_reset_limit: int = Field(default=5, ge=1)
    """Reset requests (and resends) per typed login per window; each sends a message."""
    password_reset_ip_limit: int = Field(default=30, ge=1)
    """Reset requests (and resends) per client IP per window."""
    password_reset_window: Duration = timedelta(hours=1)
    """The window of the two reset limits."""

    # --- second factors (issue 19) -------------------------------------------------
    reauth_window: Duration = timedelta(minutes=5)
    """"Sudo mode": how long a password re-entered at `POST /session/reauthenticate` lets
    the session change how it signs in."""
    totp_issuer: str | None = Field(default=None, max_length=64, pattern=r"^[^:]+$")
    """The name authenticator apps show (`issuer:login`); no colon."""
    totp_enrollment_ttl: Duration = timedelta(minutes=10)
    """How long a new authenticator app waits for its first code."""
    contact_change_limit: int = Field(default=5, ge=1)
    """Codes sent to a new e-mail address or phone number per account per window
    (`POST /account/email`, `/account/phone`): each goes to an address the account does
    not own yet, which a signed-in attacker must not spray."""
    contact_change_window: Duration = timedelta(hours=1)
    """The window of `AUTHSVC_CONTACT_CHANGE_LIMIT`."""

    # --- passkeys (issue 20) ------------------------------------------------------
    passkey_sign_in: bool = True
    """Sign in with a discoverable passkey alone (`POST /login/passkey`), no login or
    password typed."""
    passkey_ip_limit: int = Field(default=60, ge=1)
    """Passwordless passkey requests (options and sign-ins) per client IP per
    `AUTHSVC_THROTTLE_IP_WINDOW`."""

    # --- authorization codes ---------------------------------------------------
    auth_code_ttl: Duration = timedelta(hours=1)
    """Lifetime of an authorization code a customer generates for support."""
    auth_code_max_mismatches: int = Field(default=5, ge=1)
    """Wrong codes support may try against one code before it is locked."""
    auth_code_generation_limit: int = Field(default=10, ge=1)
    """Codes a customer may generate per window."""
    auth_code_generation_window: Duration = timedelta(hours=1)
    """The window of `AUTHSVC_AUTH_CODE_GENERATION_LIMIT`."""
    support_key_rate_limit: int = Field(default=120, ge=1)
    """Verifications per support key per window."""
    support_key_rate_window: Duration = timedelta(minutes=1)
    """The window of `AUTHSVC_SUPPORT_KEY_RATE_LIMIT`."""

    # --- retention (authsvc purge) ---------------------------------------------
    retention_expired: Duration = timedelta(days=7)
    """How long `authsvc purge` keeps what has expired or ended: login challenges,
    sessions, authorization codes, password resets, links, past hours' SMS counts."""
    retention_messages: Duration = timedelta(days=30)
    """How long `authsvc purge` keeps sent, abandoned and cancelled messages."""
    retention_audit: Duration = timedelta(days=730)
    """How long `authsvc purge` keeps the support audit and the security events."""

    # --- delivery ------------------------------------------------------------
    smtp_url: SecretStr | None = None
    """The SMTP server: `smtp://relay.internal:25`, `smtp://user:pass@host:587?starttls=true`
    or `smtps://user:pass@host:465` (see Delivery of codes and notices)."""
    mail_from: str = "authsvc <no-reply@localhost>"
    """The sender of e-mails (`Client Panel <no-reply@panel.example.com>`); its domain
    also forms the `Message-ID`."""
    email_provider: Literal["smtp", "console"] | None = None
    """How e-mails leave; `console` prints them and is refused outside dev mode."""
    sms_provider: Literal["webhook", "smsapi", "twilio", "console"] | None = None
    """How SMS leave; `console` prints them and is refused outside dev mode."""
    dev_mailbox: bool = True
    """Dev mode only: console delivery also keeps each message in `mailbox.jsonl` in the
    data folder, which `authsvc mailbox` reads."""
    sms_webhook_url: str | None = None
    """The `webhook` provider's URL: it is POSTed JSON `{"to","text","message_id"}`; any
    2xx is success."""
    sms_webhook_token: SecretStr | None = None
    """Sent to the webhook as `Authorization: Bearer <token>`."""
    smsapi_url: str = "https://api.smsapi.pl/sms.do"
    """SMSAPI's endpoint for sending (the `smsapi` provider); `https://` outside dev
    mode, as every gateway URL."""
    smsapi_token: SecretStr | None = None
    """SMSAPI's OAuth token (the `smsapi` provider)."""
    smsapi_sender: str | None = None
    """A verified SMSAPI sender name (`Panel`); unset, SMSAPI's default."""
    twilio_account_sid: str | None = None
    """Twilio's account SID (`AC...`, the `twilio` provider)."""
    twilio_auth_token: SecretStr | None = None
    """Twilio's auth token (the `twilio` provider)."""
    twilio_from: str | None = None
    """The sender number (`+48221234567`), or a Messaging Service SID (`MG...`)."""
    twilio_base_url: str = "https://api.twilio.com"
    """Twilio's API (the `twilio` provider), changed only for a test double or a
    regional endpoint; `https://` outside dev mode."""
    sms_timeout: Duration = timedelta(seconds=10)
    """How long one SMS gateway call may take."""
    delivery_max_attempts: int = Field(default=8, ge=1)
    """Sends of one message before it is abandoned."""
    delivery_ttl: Duration = timedelta(hours=1)
    """A message not sent this long after it was queued is abandoned."""
    delivery_backoff_base: Duration = timedelta(seconds=2)
    """The first wait before a retry; it doubles (with jitter) at each failure."""
    delivery_backoff_max: Duration = timedelta(minutes=5)
    """The cap on the wait between retries."""
    delivery_poll_interval: Duration = timedelta(seconds=5)
    """How often an idle worker looks for due messages when no NOTIFY wakes it."""
    delivery_lease: Duration = timedelta(minutes=2)
    """How long a worker owns a message it is sending: one that dies mid-send leaves the
    message to the others after this. Sends are cut off at half of it; at least twice
    `AUTHSVC_SMS_TIMEOUT`."""
    delivery_batch_size: int = Field(default=50, ge=1, le=1000)
    """Messages a worker claims at once."""
    delivery_concurrency: int = Field(default=32, ge=1, le=512)
    """Sends a worker runs at once."""
    timezone: str = "Europe/Warsaw"
    """Local time shown in e-mails next to UTC."""

    # --- SMS pumping guard (issue 21) ---------------------------------------------
    sms_countries: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: parse_countries(DEFAULT_SMS_COUNTRIES)
    )
    """ISO 3166 codes of the countries whose mobile numbers accounts may have and codes
    are texted to."""
    sms_budget_number: int = Field(default=5, ge=0)
    """SMS per clock hour to one number. A code over any SMS budget goes by e-mail; `0`
    sends none under it by SMS."""
    sms_budget_prefix: int = Field(default=20, ge=0)
    """SMS per clock hour to one number prefix (the number without its last 4 digits)."""
    sms_budget_country: int = Field(default=1000, ge=0)
    """SMS per clock hour to each country."""
    sms_budget_service: int = Field(default=2000, ge=0)
    """SMS per clock hour for the whole service; `0` sends every code by e-mail."""
    sms_budget_ip: int = Field(default=10, ge=0)
    """SMS per clock hour caused by one client address (an IPv6 client by its /64)."""

    @field_validator("allowed_origins", "trusted_proxies", "password_context_words", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("sms_countries", mode="before")
    @classmethod
    def _countries(cls, value: object) -> object:
        return parse_countries(value)

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_bare(cls, value: list[str]) -> list[str]:
        origins = [origin.rstrip("/") for origin in value]
        for origin in origins:
            if not origin.startswith(("http://", "https://")) or origin.count("/") > 2:
                raise ValueError(f"{origin!r} is not an origin like https://panel.example.com")
        return origins

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not a URL like https://auth.example.com")
        return value.rstrip("/") if value else None

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use e.g. Europe/Warsaw)") from None
        return value

    @model_validator(mode="after")
    def _resolve_env(self) -> Self:
        if self.env is None:
            object.__setattr__(self, "env", "dev" if self.database_url is None else "prod")
        if self.shutdown_drain is None:
            drain = timedelta(0) if self.env == "dev" else DEFAULT_SHUTDOWN_DRAIN
            object.__setattr__(self, "shutdown_drain", drain)
        if self.log_format is None:
            object.__setattr__(self, "log_format", "text" if self.env == "dev" else "json")
        if self.public_url is None and self.env == "dev":
            # A wildcard listen address is reached on loopback.
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
            object.__setattr__(self, "public_url", f"http://{host}:{self.port}")
        return self

    @field_validator("session_touch_interval")
    @classmethod
    def _touch_inside_idle_timeout(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        # Touched less often than it idles out, an active session would be ended.
        idle = info.data.get("session_idle_timeout")
        if value < timedelta(0):
            raise ValueError("must not be negative (0 writes at every check)")
        if idle is not None and value >= idle:
            raise ValueError("must be shorter than AUTHSVC_SESSION_IDLE_TIMEOUT")
        return value

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def csrf_origins(self) -> frozenset[str]:
        """Origins a cookie-authenticated unsafe request may come from (a few; cheap to build)."""
        return frozenset(self.allowed_origins) | frozenset(self.own_origins)

    @property
    def own_origins(self) -> list[str]:
        """Origin of the service's own pages (for CSRF): public_url's, and its loopback twin."""
        if self.public_url is None:
            return []
        parts = urlsplit(self.public_url)
        origins = [f"{parts.scheme}://{parts.netloc}"]
        # http://localhost:8000 and http://127.0.0.1:8000 are the same dev server.
        twins = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}
        if self.is_dev and parts.hostname in twins:
            origins.append(f"{parts.scheme}://{twins[parts.hostname]}:{parts.port or 80}")
        return origins

    @property
    def transaction_pooled(self) -> bool:
        """Whether each transaction may run on another server connection (PgBouncer)."""
        return self.database_pooler == "transaction"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    def secret_keys(self) -> list[bytes]:
        """The configured keys, first one signs; empty when none is set."""
        if self.secret_key is None:
            return []
        keys = self.secret_key.get_secret_value().split(",")
        return [key.strip().encode() for key in keys if key.strip()]


def check_production_rules(settings: Settings) -> None:
    """Refuse settings that are fine in dev but dangerous in production."""
    keys = settings.secret_keys()
    if not settings.is_dev:
        if settings.database_url is None:
            # The embedded server is for a developer's machine, not for production data.
            raise ConfigError("AUTHSVC_DATABASE_URL: required outside dev mode")
        if not keys:
            raise ConfigError("AUTHSVC_SECRET_KEY: required outside dev mode")
        if settings.sms_provider == "console" or settings.email_provider == "console":
            raise ConfigError("AUTHSVC_SMS_PROVIDER/AUTHSVC_EMAIL_PROVIDER: console is dev only")
    for key in keys:
        if len(key) < SECRET_KEY_MIN_LENGTH:
            raise ConfigError(
                f"AUTHSVC_SECRET_KEY: each key must be at least {SECRET_KEY_MIN_LENGTH} characters"
            )
    if not settings.is_dev and settings.public_url is None:
        # Links in e-mails ("this wasn't me") must point where customers reach us.
        raise ConfigError("AUTHSVC_PUBLIC_URL: required outside dev mode")


def ensure_dev_secret_key(settings: Settings) -> Settings:
    """In dev mode without a key, keep a generated one in the data folder.

    Keeping it on disk means sessions and queued messages survive a restart.
    """
    if settings.secret_keys() or not settings.is_dev:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(48))
    return settings.model_copy(update={"secret_key": SecretStr(key_file.read_text().strip())})


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad variable, e.g. `AUTHSVC_PORT: Input should be a valid integer`."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        name = "AUTHSVC_" + str(item["loc"][0]).upper() if item["loc"] else "AUTHSVC_*"
        parts.append(f"{name}: {item['msg']}")
    return "; ".join(parts)


def load_settings() -> Settings:
    """Read, validate and complete the settings, or raise ConfigError with a one-line message."""
    try:
        settings = Settings()
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    settings = ensure_dev_secret_key(settings)
    check_production_rules(settings)
    return settings
