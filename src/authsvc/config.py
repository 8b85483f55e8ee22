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
    model_config = SettingsConfigDict(env_prefix="AUTHSVC_", extra="ignore", frozen=True)

    # --- running -------------------------------------------------------------
    env: Literal["dev", "prod"] | None = Field(
        default=None,
        description="dev or prod; unset means dev on the embedded database, prod otherwise",
    )
    database_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("authsvc"))
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # On SIGTERM, `authsvc serve` first answers /readyz with 503 for this long while it
    # still serves every request, so a load balancer's health checks take it out of
    # rotation before it stops accepting; then in-flight requests finish and it exits.
    # Make it exceed the balancer's check interval × its failure count. Dev mode: 0
    # (nothing balances a dev server). Otherwise 5 s: checks every 2 s failing twice fit,
    # and `docker stop`'s 10 s leaves 5 s for the requests in flight. deploy/kubernetes
    # sets 0: a terminating pod leaves its Service at once, the preStop pause covers the
    # rest. SIGINT (Ctrl-C) never waits.
    shutdown_drain: Duration | None = Field(
        default=None,
        ge=timedelta(0),
        le=timedelta(minutes=5),
        description="readiness 503 before a SIGTERM stops serve; unset means 0 in dev mode, "
        "5 s otherwise",
    )
    migrate_on_start: bool = False
    run_delivery_worker: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="json or text; unset means text in dev mode, json otherwise"
    )
    # Bearer token /metrics asks for; unset: open in dev mode, refused in production.
    metrics_token: SecretStr | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # What AUTHSVC_DATABASE_URL points at: PostgreSQL itself or a session-pooling proxy
    # ("none", "session": every feature works), or PgBouncer in transaction pooling,
    # where a connection is another server's at each transaction: no prepared statement
    # outlives its statement, and LISTEN goes to AUTHSVC_DATABASE_DIRECT_URL.
    database_pooler: Literal["none", "session", "transaction"] = "none"
    # PostgreSQL itself, past the pooler: the delivery worker LISTENs there (without it,
    # behind a transaction pooler, the worker polls) and `authsvc migrate` migrates there.
    database_direct_url: SecretStr | None = None

    # --- secrets -------------------------------------------------------------
    secret_key: SecretStr | None = None

    # --- HTTP ------------------------------------------------------------------
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # --- pages (issue 11) ---------------------------------------------------------
    # /panel/ and /support/ served by authsvc itself.
    panel_enabled: bool = True
    # Where browsers reach this service; its origin passes the CSRF check like an allowed
    # origin, so the pages work same-origin. Dev default: http://{host}:{port}.
    public_url: str | None = None
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    # Larger request bodies get 413 before they are read; ours are a few hundred bytes.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Strict-Transport-Security outside dev mode (0: none, e.g. when the proxy sends it).
    hsts_max_age: Duration = Field(default=timedelta(days=365), ge=timedelta(0))

    # --- passwords -----------------------------------------------------------
    argon2_memory_kib: int = Field(default=ARGON2_DEFAULT_MEMORY_KIB, ge=ARGON2_MIN_MEMORY_KIB)
    argon2_time_cost: int = Field(default=ARGON2_DEFAULT_TIME_COST, ge=ARGON2_MIN_TIME_COST)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    # Hashes that may run at once (the thread pool); unset: from the container's CPU quota
    # and memory limit (core.cgroups), not the host's CPU count.
    argon2_threads: int | None = Field(default=None, ge=1, le=256)
    password_min_length: int = Field(default=8, ge=8)
    password_max_length: int = Field(default=128, ge=PASSWORD_MAX_LENGTH_FLOOR)
    # How many argon2 verifications may wait for a thread before /login sheds load with 503.
    argon2_max_waiting: int = Field(default=16, ge=0)

    # --- login ---------------------------------------------------------------
    login_otp_ttl: Duration = timedelta(minutes=10)
    login_otp_max_attempts: int = Field(default=5, ge=1)
    login_otp_max_resends: int = Field(default=3, ge=0)
    login_otp_resend_cooldown: Duration = timedelta(seconds=30)

    # --- sessions ------------------------------------------------------------
    session_idle_timeout: Duration = timedelta(minutes=30)
    session_absolute_lifetime: Duration = timedelta(hours=12)
    # A check writes the session's last use (and slides its idle expiry) only when the
    # stored one is older than this: the hottest call stays a read. The idle timeout then
    # ends a session up to this much early, never late.
    session_touch_interval: Duration = timedelta(seconds=60)

    # --- throttling ----------------------------------------------------------
    # Per login name (and per device cookie): a person mistypes a few times, then waits.
    throttle_free_failures: int = Field(default=3, ge=0)
    throttle_base_delay: Duration = timedelta(seconds=1)
    throttle_max_delay: Duration = timedelta(minutes=15)
    throttle_window: Duration = timedelta(hours=1)
    # Per client IP, sized for shared addresses (an office NAT, a mobile carrier's CGNAT):
    # dozens of customers who each mistype once must not block each other, while one
    # address guessing across many logins still meets a back-off after 50 failures.
    throttle_ip_free_failures: int = Field(default=50, ge=0)
    throttle_ip_base_delay: Duration = timedelta(seconds=1)
    throttle_ip_max_delay: Duration = timedelta(minutes=15)
    throttle_ip_window: Duration = timedelta(hours=1)
    # The signed cookie of a browser that completed a login (OWASP device cookies).
    device_cookie_lifetime: Duration = timedelta(days=365)

    # --- account protection -------------------------------------------------------
    # "This wasn't me" links in the login-confirmation and code-generated e-mails.
    not_me_link_ttl: Duration = timedelta(days=7)
    password_reset_ttl: Duration = timedelta(minutes=10)
    password_reset_max_attempts: int = Field(default=5, ge=1)
    # Reset requests per typed login and per client IP (each sends a message).
    password_reset_limit: int = Field(default=5, ge=1)
    password_reset_ip_limit: int = Field(default=30, ge=1)
    password_reset_window: Duration = timedelta(hours=1)

    # --- second factors (issue 19) -------------------------------------------------
    # "Sudo mode": how long a password re-entry lets the session change how it signs in.
    reauth_window: Duration = timedelta(minutes=5)
    # The name authenticator apps show; unset: the host of AUTHSVC_PUBLIC_URL.
    totp_issuer: str | None = Field(default=None, max_length=64, pattern=r"^[^:]+$")
    # How long a new authenticator app waits for its first code.
    totp_enrollment_ttl: Duration = timedelta(minutes=10)
    # Codes sent to new contact addresses per account (each is a message to an address
    # the account does not own yet: a signed-in attacker must not spray them).
    contact_change_limit: int = Field(default=5, ge=1)
    contact_change_window: Duration = timedelta(hours=1)

    # --- passkeys (issue 20) ------------------------------------------------------
    # Sign in with a discoverable passkey alone (no login or password typed).
    passkey_sign_in: bool = True
    # Passwordless passkey requests (options and sign-ins) per client IP per
    # AUTHSVC_THROTTLE_IP_WINDOW.
    passkey_ip_limit: int = Field(default=60, ge=1)

    # --- authorization codes ---------------------------------------------------
    auth_code_ttl: Duration = timedelta(hours=1)
    auth_code_max_mismatches: int = Field(default=5, ge=1)
    auth_code_generation_limit: int = Field(default=10, ge=1)
    auth_code_generation_window: Duration = timedelta(hours=1)
    support_key_rate_limit: int = Field(default=120, ge=1)
    support_key_rate_window: Duration = timedelta(minutes=1)

    # --- retention (authsvc purge) ---------------------------------------------
    retention_expired: Duration = timedelta(days=7)
    retention_messages: Duration = timedelta(days=30)
    retention_audit: Duration = timedelta(days=730)

    # --- delivery ------------------------------------------------------------
    smtp_url: SecretStr | None = None
    mail_from: str = "authsvc <no-reply@localhost>"
    email_provider: Literal["smtp", "console"] | None = None
    sms_provider: Literal["webhook", "smsapi", "twilio", "console"] | None = None
    # Dev only: console delivery also keeps each message in <data_dir>/mailbox.jsonl,
    # which `authsvc mailbox` reads (delivery/mailbox.py).
    dev_mailbox: bool = True
    sms_webhook_url: str | None = None
    sms_webhook_token: SecretStr | None = None
    smsapi_url: str = "https://api.smsapi.pl/sms.do"
    smsapi_token: SecretStr | None = None
    smsapi_sender: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    sms_timeout: Duration = timedelta(seconds=10)
    # --- SMS pumping guard (issue 21) ---------------------------------------------
    # Numbers are accepted only from these countries (and only mobiles); comma list.
    sms_countries: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: parse_countries(DEFAULT_SMS_COUNTRIES)
    )
    # SMS per clock hour; a code over any budget goes by e-mail instead (0: never SMS).
    sms_budget_number: int = Field(default=5, ge=0)
    sms_budget_prefix: int = Field(default=20, ge=0)  # a number without its last 4 digits
    sms_budget_country: int = Field(default=1000, ge=0)  # each country's own
    sms_budget_service: int = Field(default=2000, ge=0)
    sms_budget_ip: int = Field(default=10, ge=0)  # the client address that asked (IPv6: /64)
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_ttl: Duration = timedelta(hours=1)
    delivery_backoff_base: Duration = timedelta(seconds=2)
    delivery_backoff_max: Duration = timedelta(minutes=5)
    delivery_poll_interval: Duration = timedelta(seconds=5)
    # How long a worker owns a message it is sending; a worker that dies mid-send leaves
    # the message to others after this. Sends are cut off at half of it.
    delivery_lease: Duration = timedelta(minutes=2)
    delivery_batch_size: int = Field(default=50, ge=1, le=1000)
    delivery_concurrency: int = Field(default=32, ge=1, le=512)
    timezone: str = "Europe/Warsaw"

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
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
