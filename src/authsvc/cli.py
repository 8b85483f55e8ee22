"""authsvc: two-step login, authorization codes and support verification.

Every failure an operator can cause (bad setting, duplicate login, weak password,
unreachable database) ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

import authsvc
from authsvc.accounts import phones
from authsvc.accounts import service as accounts
from authsvc.accounts.models import Account
from authsvc.accounts.passwords import PasswordHasher
from authsvc.accounts.policy import check_new_password
from authsvc.config import ConfigError, Settings
from authsvc.context import ServiceContext
from authsvc.core.db import DatabaseUnavailable
from authsvc.core.errors import AppError
from authsvc.delivery.adapters import email_provider, sms_provider
from authsvc.maintenance.purge import DEFAULT_BATCH_SIZE
from authsvc.ops.embedded import EmbeddedPostgres
from authsvc.ops.logs import configure_logging, logging_config
from authsvc.ops.metrics import MULTIPROC_ENV
from authsvc.ops.migrations import current_revision, head_revision, upgrade
from authsvc.protection import service as protection
from authsvc.startup import startup_settings
from authsvc.support import keys

if TYPE_CHECKING:
    import uvicorn

T = TypeVar("T")
EXIT_USAGE = 2
log = logging.getLogger("authsvc.cli")
# Commands that run until stopped, whose log is their output.
SERVICES = frozenset({"serve", "worker"})


class CommandError(Exception):
    """A failure to report as one line."""


class Terminated(Exception):
    """SIGTERM arrived: unwind normally so the embedded PostgreSQL is stopped too."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


# --- plumbing ----------------------------------------------------------------------


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured database, or the embedded one started (and later stopped) for us."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        url = embedded.start()
    except Exception as error:
        raise CommandError(f"cannot start the embedded PostgreSQL: {error}") from None
    try:
        yield url
    finally:
        embedded.stop()


def run_with_context(
    settings: Settings,
    work: Callable[[ServiceContext], Awaitable[T]],
    *,
    application_name: str = "authsvc-cli",
) -> T:
    """Run `work` against the database with a service context, closing it afterwards."""

    async def runner() -> T:
        # The embedded database is ours to migrate; a configured one must already be at
        # head, or the command would fail on a missing table with a confusing message.
        await _prepare_schema(url, settings, migrate=settings.uses_embedded_database)
        ctx = ServiceContext.build(settings, url, application_name=application_name)
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    with database_url(settings) as url, asyncio.Runner(loop_factory=_loop_factory()) as loop:
        return loop.run(runner())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (it comes with uvicorn[standard]), as `serve` runs on: the
    worker's many small socket writes cost less CPU on it."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def describe_database(settings: Settings, url: str) -> str:
    """Which database, for the start-up log: never the password."""
    if settings.uses_embedded_database:
        return f"embedded:{EmbeddedPostgres(settings.data_dir).pgdata}"
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}" if parsed.host else "socket"
    return f"{where}/{parsed.database}"


def log_level(args: argparse.Namespace, settings: Settings) -> str:
    """AUTHSVC_LOG_LEVEL when it is set, else `info` for `serve` and `worker` and `warning`
    for the one-shot commands, whose answer is what they print; `-v` shows `info` too."""
    explicit = "log_level" in settings.model_fields_set
    level = settings.log_level if explicit or args.command in SERVICES else "warning"
    if args.verbose and level in ("warning", "error"):
        return "info"
    return level


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0] if text else type(error).__name__


# --- serve and migrate ---------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    with database_url(settings) as url:
        # The embedded database is ours: bring it to head. Elsewhere only when asked to.
        migrate = settings.uses_embedded_database or args.migrate or settings.migrate_on_start
        asyncio.run(_prepare_schema(url, settings, migrate=migrate))
        # The app (and each uvicorn worker process) reads its settings from the environment.
        os.environ["AUTHSVC_DATABASE_URL"] = url
        os.environ["AUTHSVC_ENV"] = str(settings.env)
        # --host/--port too: the dev default of AUTHSVC_PUBLIC_URL is built from them.
        os.environ["AUTHSVC_HOST"], os.environ["AUTHSVC_PORT"] = host, str(port)
        # --workers too: each worker sizes its argon2 pool to its share of the container.
        os.environ["AUTHSVC_WORKERS"] = str(workers)
        if settings.secret_key is not None:
            os.environ["AUTHSVC_SECRET_KEY"] = settings.secret_key.get_secret_value()
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the
        # handler found at start; ours turns it into an exception so `finally` runs.
        signal.signal(signal.SIGTERM, _raise_terminated)
        log.info(
            "starting mode=%s database=%s email=%s sms=%s listen=http://%s:%d workers=%d",
            settings.env, describe_database(settings, url), email_provider(settings),
            sms_provider(settings), host, port, workers,
        )  # fmt: skip
        metrics_dir = tempfile.mkdtemp(prefix="authsvc-metrics-") if workers > 1 else None
        if metrics_dir is not None:
            # Before the workers import prometheus_client: they then write their samples
            # where /metrics in any of them adds all up.
            os.environ[MULTIPROC_ENV] = metrics_dir
        drain = (settings.shutdown_drain or timedelta(0)).total_seconds()
        try:
            _run_uvicorn(
                uvicorn.Config(
                    "authsvc.app:create_app",
                    factory=True,
                    host=host,
                    port=port,
                    workers=workers,
                    # In every worker process too, so their lines are like a single one's.
                    log_config=logging_config(
                        log_level(args, settings), settings.log_format or "text"
                    ),
                    access_log=False,  # ours has the route template and request id
                    proxy_headers=False,  # client IPs are resolved by AUTHSVC_TRUSTED_PROXIES
                    server_header=False,
                ),
                drain=drain,
                run_dir=metrics_dir,
            )
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _run_uvicorn(config: uvicorn.Config, *, drain: float, run_dir: str | None) -> None:
    """What `uvicorn.run` does, with the servers that drain on SIGTERM (ops/drain.py)."""
    from authsvc.ops.drain import DRAIN_FILE_ENV
    from authsvc.ops.serving import DrainingServer, DrainingSupervisor

    if run_dir is not None:
        # Beside the metrics files (prometheus_client reads only its *.db ones there).
        marker = Path(run_dir) / "draining"
        os.environ[DRAIN_FILE_ENV] = str(marker)  # before the workers are spawned
        DrainingSupervisor(config, [config.bind_socket()], drain=drain, marker=marker).run()
        return
    server = DrainingServer(config, drain=drain)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        server.run()
    if not server.started:
        raise CommandError("the server did not start (see the log above)")


async def _prepare_schema(url: str, settings: Settings, *, migrate: bool) -> None:
    from authsvc.core.db import create_engine

    # Past the pooler when PostgreSQL's own address is given (DDL wants no proxy between).
    direct = settings.database_direct_url
    if direct is not None and not settings.uses_embedded_database:
        engine = create_engine(direct.get_secret_value(), pool_size=1)
    else:
        engine = create_engine(url, pool_size=1, transaction_pooled=settings.transaction_pooled)
    try:
        if migrate:
            await upgrade(engine)
            return
        current = await current_revision(engine)
        if current != head_revision():
            raise CommandError(
                f"database schema is at {current or 'nothing'}, this version needs "
                f"{head_revision()}: run `authsvc migrate` first, or start with --migrate"
            )
    finally:
        await engine.dispose()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        asyncio.run(_prepare_schema(url, settings, migrate=True))
    print(f"database schema is at {head_revision()}")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Only the delivery worker; SIGTERM or Ctrl-C finishes the messages in hand, then exits."""
    from authsvc.delivery.worker import DeliveryWorker

    async def work(ctx: ServiceContext) -> None:
        async with DeliveryWorker(ctx) as worker:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, worker.stop)
            await worker.run()

    run_with_context(settings, work, application_name="authsvc-worker")
    return 0


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    from authsvc.openapi import openapi_yaml

    sys.stdout.write(openapi_yaml())
    return 0


def cmd_config_reference(args: argparse.Namespace, settings: Settings) -> int:
    from authsvc.ops.config_reference import config_reference, with_reference

    reference = config_reference()
    if args.update is None:
        sys.stdout.write(reference)
        return 0
    document = Path(args.update)
    text = document.read_text(encoding="utf-8")
    try:
        updated = with_reference(text, reference)
    except ValueError as error:
        raise CommandError(f"{document}: {error}") from None
    if updated == text:
        print(f"{document}: the reference was up to date")
    else:
        document.write_text(updated, encoding="utf-8")
        print(f"{document}: the reference is updated")
    return 0


# --- accounts ------------------------------------------------------------------------


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CommandError("the passwords do not match")
        return password
    # One line from a pipe; only the line break is removed, never other characters.
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def cmd_accounts_create(args: argparse.Namespace, settings: Settings) -> int:
    accounts.validate_contact(
        login=args.login, channel=args.channel, locale=args.locale, phone=args.phone
    )
    accounts.normalise_email(args.email)
    if args.phone:
        accounts.normalise_phone(args.phone, settings.sms_countries)
    password = _read_password()
    check_new_password(password, settings, login=args.login)
    password_hash = PasswordHasher.from_settings(settings).hash_blocking(password)

    async def create(ctx: ServiceContext) -> str:
        async with ctx.db.transaction() as session:
            account = await accounts.create_account(
                session,
                login=args.login,
                email=args.email,
                phone=args.phone,
                channel=args.channel,
                locale=args.locale,
                password_hash=password_hash,
                now=ctx.clock.now(),
                sms_countries=settings.sms_countries,
            )
            return str(account.id)

    account_id = run_with_context(settings, create)
    print(f"created account {args.login} ({account_id})")
    return 0


def cmd_accounts_list(args: argparse.Namespace, settings: Settings) -> int:
    async def fetch(ctx: ServiceContext) -> list[tuple[str, ...]]:
        async with ctx.db.transaction() as session:
            return [
                (
                    a.login,
                    a.email,
                    _phone_cell(a, settings.sms_countries),
                    a.channel,
                    a.locale,
                    "disabled" if a.disabled else "active",
                    a.created_at.strftime("%Y-%m-%dT%H:%MZ"),
                    str(a.id),
                )
                for a in await accounts.list_accounts(session)
            ]

    rows = run_with_context(settings, fetch)
    _print_table(("LOGIN", "EMAIL", "PHONE", "CHANNEL", "LOCALE", "STATUS", "CREATED", "ID"), rows)
    return 0


def _phone_cell(account: Account, countries: list[str]) -> str:
    """The number, or one that codes cannot be texted to with the reason (migration 0009
    moved it aside and the account to e-mail)."""
    if account.phone:
        return account.phone
    if account.phone_invalid:
        found = phones.check(account.phone_invalid, countries)
        reason = found if isinstance(found, str) else "accepted now; set it again"
        return f"{account.phone_invalid} (refused: {reason})"
    return "-"


def _cmd_set_disabled(disabled: bool) -> Callable[[argparse.Namespace, Settings], int]:
    def command(args: argparse.Namespace, settings: Settings) -> int:
        async def change(ctx: ServiceContext) -> None:
            async with ctx.db.transaction() as session:
                await accounts.set_disabled(
                    session, args.login, disabled=disabled, now=ctx.clock.now()
                )

        run_with_context(settings, change)
        print(f"account {args.login} {'disabled' if disabled else 'enabled'}")
        return 0

    return command


def cmd_accounts_reset_factors(args: argparse.Namespace, settings: Settings) -> int:
    async def reset(ctx: ServiceContext) -> None:
        await protection.reset_factors(ctx, login=args.login, reason=args.reason)

    run_with_context(settings, reset)
    print(f"account {args.login}: authenticator app and recovery codes cleared; customer told")
    return 0


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


# --- support keys and purge ---------------------------------------------------------


def cmd_support_keys_create(args: argparse.Namespace, settings: Settings) -> int:

    scopes = args.scope or list(keys.DEFAULT_SCOPES)
    keys.validate(args.name, scopes)

    async def create(ctx: ServiceContext) -> str:
        async with ctx.db.transaction() as session:
            new = await keys.create_key(session, name=args.name, scopes=scopes, now=ctx.clock.now())
            return new.key

    key = run_with_context(settings, create)
    # The key alone on stdout, so `KEY=$(authsvc support-keys create ...)` works.
    print(key, flush=True)
    print(
        f"created support key {args.name} (scopes: {' '.join(sorted(set(scopes)))}); "
        "it is shown only this once",
        file=sys.stderr,
    )
    return 0


def cmd_support_keys_list(args: argparse.Namespace, settings: Settings) -> int:

    async def fetch(ctx: ServiceContext) -> list[tuple[str, ...]]:
        async with ctx.db.transaction() as session:
            return [
                (
                    k.name,
                    ",".join(k.scopes),
                    "revoked" if k.revoked_at else "active",
                    k.created_at.strftime("%Y-%m-%dT%H:%MZ"),
                    str(k.id),
                )
                for k in await keys.list_keys(session)
            ]

    rows = run_with_context(settings, fetch)
    _print_table(("NAME", "SCOPES", "STATUS", "CREATED", "ID"), rows)
    return 0


def cmd_support_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:

    async def revoke(ctx: ServiceContext) -> None:
        async with ctx.db.transaction() as session:
            await keys.revoke_key(session, name=args.name, now=ctx.clock.now())

    run_with_context(settings, revoke)
    print(f"support key {args.name} revoked")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from authsvc.maintenance.purge import purge

    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")

    async def run(ctx: ServiceContext) -> dict[str, int]:
        return await purge(
            ctx.db, now=ctx.clock.now(), settings=settings, batch_size=args.batch_size
        )

    report = run_with_context(settings, run)
    _print_table(("TABLE", "DELETED"), [(table, str(n)) for table, n in report.items()])
    return 0


# --- SMS budgets ---------------------------------------------------------------------


def cmd_sms_status(args: argparse.Namespace, settings: Settings) -> int:
    from authsvc.sms_guard import service as sms_guard

    if args.top < 1:
        raise CommandError("--top must be at least 1")

    async def fetch(ctx: ServiceContext) -> sms_guard.Status:
        async with ctx.db.transaction() as session:
            return await sms_guard.status(session, ctx, top=args.top)

    found = run_with_context(settings, fetch)
    print(f"SMS budgets of the hour {found.hour:%Y-%m-%dT%H:%MZ} to {found.ends:%H:%MZ}")
    rows: list[tuple[str, ...]] = [
        (use.budget, use.subject, str(use.used), str(use.allowed),
         "spent" if use.used >= use.allowed else "")
        for use in found.uses
    ]  # fmt: skip
    _print_table(("BUDGET", "SUBJECT", "USED", "LIMIT", "STATE"), rows)
    return 0


# --- dev mailbox ---------------------------------------------------------------------


def cmd_mailbox(args: argparse.Namespace, settings: Settings) -> int:
    from authsvc.delivery import mailbox

    if not settings.is_dev:
        raise CommandError("the dev mailbox exists only in dev mode (console delivery)")
    path = settings.data_dir / mailbox.FILE_NAME
    if not (args.new or args.code):
        for letter in mailbox.read(path):
            if args.to is None or letter.to == args.to:
                print(letter.render())
        return 0
    letters = mailbox.take_new(path, to=args.to, wait=args.wait, code=args.code)
    if not letters:
        wanted = "code" if args.code else "message"
        raise CommandError(f"no new {wanted} in {path} within {args.wait:g} s")
    if args.code:
        # The newest: after a resend, the code that works.
        print([code for letter in letters if (code := letter.code())][-1])
    else:
        for letter in letters:
            print(letter.render())
    return 0


# --- parser --------------------------------------------------------------------------


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """Every command and subcommand shows its defaults in --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="authsvc", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log info lines too (commands other than serve and worker log only warnings, "
        "unless AUTHSVC_LOG_LEVEL is set)",
    )
    parser.add_argument("--version", action="version", version=f"authsvc {authsvc.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API and the delivery worker")
    serve.add_argument("--host", help="address to listen on (AUTHSVC_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (AUTHSVC_PORT, 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (AUTHSVC_WORKERS, 1)")
    serve.add_argument(
        "--migrate", action="store_true", help="bring the schema to head before serving"
    )
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="bring the schema to the latest migration")
    migrate.set_defaults(handler=cmd_migrate)

    worker = commands.add_parser("worker", help="run only the delivery worker")
    worker.set_defaults(handler=cmd_worker)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document as YAML")
    openapi.set_defaults(handler=cmd_openapi, needs_settings=False)

    reference = commands.add_parser(
        "config-reference",
        help="print the settings' reference (Markdown) of docs/configuration.md",
    )
    reference.add_argument(
        "--update",
        metavar="FILE",
        help="write it between FILE's markers instead (docs/configuration.md)",
    )
    reference.set_defaults(handler=cmd_config_reference, needs_settings=False)

    acc = commands.add_parser("accounts", help="manage customer accounts")
    acc_commands = acc.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    create = acc_commands.add_parser(
        "create", help="create an account; the password is read from standard input"
    )
    create.add_argument("--login", required=True, help="3 to 64 letters, digits and . _ @ + -")
    create.add_argument("--email", required=True, help="where codes and notices go")
    create.add_argument("--phone", help="international form, e.g. +48601234567")
    create.add_argument(
        "--channel", choices=accounts.CHANNELS, default="email", help="how login codes go out"
    )
    create.add_argument(
        "--locale", choices=accounts.LOCALES, default="pl", help="language of the messages"
    )
    create.set_defaults(handler=cmd_accounts_create)
    acc_commands.add_parser("list", help="list accounts").set_defaults(handler=cmd_accounts_list)
    for action, disabled in (("disable", True), ("enable", False)):
        sub = acc_commands.add_parser(action, help=f"{action} an account")
        sub.add_argument("login")
        sub.set_defaults(handler=_cmd_set_disabled(disabled))

    reset = acc_commands.add_parser(
        "reset-factors",
        help="clear a customer's authenticator app and recovery codes (audited, the "
        "customer is told)",
    )
    reset.add_argument("login")
    reset.add_argument("--reason", required=True, help="why, for the security event")
    reset.set_defaults(handler=cmd_accounts_reset_factors)

    sk = commands.add_parser("support-keys", help="manage support tools' API keys")
    sk_commands = sk.add_subparsers(dest="support_keys_command", required=True, metavar="ACTION")
    sk_create = sk_commands.add_parser(
        "create", help="create a key; prints it once, alone on its line on standard output"
    )
    sk_create.add_argument("--name", required=True, help="unique name, shown in audit trails")
    sk_create.add_argument(
        "--scope",
        action="append",
        help="a scope to grant (repeatable; known: "
        f"{', '.join(keys.KNOWN_SCOPES)}; default: {', '.join(keys.DEFAULT_SCOPES)})",
    )
    sk_create.set_defaults(handler=cmd_support_keys_create)
    sk_commands.add_parser("list", help="list keys").set_defaults(handler=cmd_support_keys_list)
    sk_revoke = sk_commands.add_parser("revoke", help="revoke a key now")
    sk_revoke.add_argument("name")
    sk_revoke.set_defaults(handler=cmd_support_keys_revoke)

    purge = commands.add_parser(
        "purge", help="delete expired challenges, sessions, codes and old messages past retention"
    )
    purge.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="rows per transaction",
    )
    purge.set_defaults(handler=cmd_purge)

    sms = commands.add_parser("sms", help="the SMS pumping guard")
    sms_commands = sms.add_subparsers(dest="sms_command", required=True, metavar="ACTION")
    sms_status = sms_commands.add_parser(
        "status", help="each SMS budget's use this hour (the busiest prefixes, numbers, IPs)"
    )
    sms_status.add_argument(
        "--top", type=int, default=10, help="prefixes, numbers and client addresses shown"
    )
    sms_status.set_defaults(handler=cmd_sms_status)

    box = commands.add_parser(
        "mailbox",
        help="dev mode: show the messages console delivery kept in the data folder",
    )
    box.add_argument("--to", help="only messages to this address or phone number")
    shown = box.add_mutually_exclusive_group()
    shown.add_argument(
        "--new", action="store_true", help="only messages not shown by an earlier --new or --code"
    )
    shown.add_argument(
        "--code", action="store_true", help="like --new, but print only the newest code"
    )
    box.add_argument(
        "--wait", type=float, default=10.0, help="seconds --new and --code wait for a message"
    )
    box.set_defaults(handler=cmd_mailbox)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # `openapi` and `config-reference` describe the code, not a deployment: they read
        # no settings, so a wrong value in the environment does not stop them either.
        needs_settings = getattr(args, "needs_settings", True)
        settings = startup_settings() if needs_settings else Settings.model_construct()
        configure_logging(log_level(args, settings), settings.log_format or "text")
        code: int = args.handler(args, settings)
        return code
    except ConfigError as error:
        print(f"authsvc: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (AppError, CommandError) as error:
        print(f"authsvc: {error}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, DatabaseUnavailable) as error:
        print(f"authsvc: cannot use the database: {_first_line(error)}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"authsvc: {_first_line(error)}", file=sys.stderr)
        return 1
    except Terminated:
        return 0
    except KeyboardInterrupt:
        return 130
