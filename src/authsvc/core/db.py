"""Database engine, sessions, and which failures mean "the database is away".

Three ways to open a session, each for one kind of work:

- **The request's session** (`web.dependencies.Session`): one unit of work per request,
  committed when the endpoint returns and rolled back on any error, refusals included.
  A write that must outlive the refusal that follows it (an attempt counter, a failure
  count, an audit row) is committed at the call site with `keep_and_refuse`.
- **`Database.transaction()`**: a unit of work outside a request (CLI, delivery worker,
  purge), or a few writes a use case commits on its own before it goes on.
- **`Database.autocommit()`**: statements that are each atomic by themselves, on the hot
  paths (the password step around argon2, the support key check): no BEGIN/COMMIT trips
  and no row lock held past the statement.
- **`Database.fetch_row(DriverQuery)`**: one Core statement, compiled once, run on a
  pooled connection's driver in autocommit, for the hottest call only (the session
  check), where SQLAlchemy's execution path cost four times the statement's round trip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import Insert, MetaData, Select, Table, bindparam, event, insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, configure_mappers
from sqlalchemy.util.concurrency import greenlet_spawn

# Explicit constraint names, so migrations can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

E = TypeVar("E", bound=Exception)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


B = TypeVar("B", bound=Base)


def table_of(model: type[Base]) -> Table:
    """The model's table, typed as one (SQLAlchemy types `__table__` as any FromClause)."""
    return cast(Table, model.__table__)


def column_values(row: Base) -> dict[str, Any]:
    """An ORM-built row as column values, for Core statements that write several rows
    of different tables in one go."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def loaded(model: type[B], values: Mapping[str, Any]) -> B:
    """A `model` holding `values` (a row of a Core statement), built as the ORM's own
    loader builds one: no `__init__`, no change events, attached to no session. For rows
    that are only read; writes go by id through a repository."""
    # Attribute access needs configured mappers; the ORM's own queries see to it, and a
    # first request may have made none yet.
    if not model.__mapper__.configured:
        configure_mappers()
    instance: B = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


class DriverQuery:
    """A Core SELECT compiled once for asyncpg, run by `Database.fetch_row`.

    For a statement whose columns need no conversion from SQLAlchemy's types (UUIDs,
    timestamps, text, booleans, bytes come back from asyncpg as the ORM would hold
    them); its repository's tests compare the rows with the ORM's own load.
    """

    def __init__(self, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        self.sql = compiled.string
        # Each bound name once, in $1, $2, ... order (a name used twice shares its $n).
        self.names = tuple(compiled.positiontup or ())
        self.columns = tuple(column.key for column in statement.selected_columns)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


def insert_statement(
    model: type[Base], prefix: str, *, only_if: Select[Any] | None = None
) -> Insert:
    """INSERT of one row of `model`, its values bound as `{prefix}{column}` (see
    `row_params`): another statement carries it as a CTE to write rows of several tables
    in one round trip, all or nothing (the login's). With `only_if` (a SELECT with its
    own FROM and WHERE), the row is written only when that finds one."""
    table = table_of(model)
    values = {column.key: bindparam(prefix + column.key, type_=column.type) for column in table.c}
    if only_if is None:
        return insert(table).values(values)
    return insert(table).from_select(list(values), only_if.with_only_columns(*values.values()))


def row_params(row: Base, prefix: str) -> dict[str, Any]:
    """The bound values of `insert_statement(type(row), prefix)` for `row`."""
    return {prefix + key: value for key, value in column_values(row).items()}


async def keep(session: AsyncSession) -> None:
    """Commit what this unit of work wrote so far and go on in a new transaction: for a
    write that other requests must see before the slow work that follows it (a password
    attempt reserved on its throttle counters before argon2)."""
    await session.commit()


async def keep_and_refuse(session: AsyncSession, refusal: E) -> E:
    """Commit what this unit of work wrote so far, then hand back `refusal` to raise.

    The one way a write outlives a refusal: `raise await keep_and_refuse(session, error)`
    says at the call site that the counters or audit rows written before it stay.
    """
    await session.commit()
    return refusal


# --- the database being away ------------------------------------------------------------


class DatabaseUnavailable(Exception):
    """The database cannot be reached, refuses connections now, or dropped ours."""


# SQLSTATEs that mean "not now" rather than "wrong": class 08 (connection exception),
# 53300 too_many_connections, 57P01-57P03 (shutting down, crashed, starting or a standby
# that refuses connections: cannot_connect_now).
_UNAVAILABLE_STATES = frozenset({"53300", "57P01", "57P02", "57P03"})


def _sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE of a driver error, or of the driver error behind SQLAlchemy's own."""
    while error is not None:
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str):
            return state
        error = error.__cause__
    return None


def _is_unavailable_state(error: BaseException | None) -> bool:
    state = _sqlstate(error)
    return state is not None and (state in _UNAVAILABLE_STATES or state.startswith("08"))


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is away (503), not that a statement was wrong."""
    if isinstance(error, DatabaseUnavailable):
        return True
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated) or _is_unavailable_state(error.orig)
    return False


def _classify_connection_failures(engine: AsyncEngine) -> None:
    """Turn the driver's raw connect and socket errors into DatabaseUnavailable.

    asyncpg raises them unwrapped (an OSError, or a PostgresError such as
    CannotConnectNowError), so without this they would look like any other bug.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(dialect: Dialect, record: object, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            if isinstance(error, OSError) or _is_unavailable_state(error):
                # The driver's words name the server, never the password.
                raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
            raise

    @event.listens_for(engine.sync_engine, "handle_error")
    def broken_socket(context: ExceptionContext) -> BaseException | None:
        if isinstance(context.original_exception, OSError):
            context.is_disconnect = True  # the pool then replaces the connection
            return DatabaseUnavailable(type(context.original_exception).__name__)
        return None


POOL_RECYCLE_SECONDS = 1800


def _unnamed() -> str:
    return ""


# Behind PgBouncer in transaction pooling (1.18, Debian's, keeps no prepared statements),
# consecutive statements of one client may run on different server connections: a named
# prepared statement would be missing there, or clash with another client's of the same
# name. So nothing is cached and every statement is the unnamed one, which asyncpg
# (its cache off) parses again in the very message sequence that runs it.
TRANSACTION_POOLER_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,  # asyncpg's own cache
    "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg dialect's
    "prepared_statement_name_func": _unnamed,
}


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    application_name: str = "authsvc",
    transaction_pooled: bool = False,
) -> AsyncEngine:
    # hide_parameters: SQL errors must never carry hashes, codes or e-mail addresses into logs.
    # No pool_pre_ping: with asyncpg it costs three round trips (BEGIN, ping, ROLLBACK) on
    # every checkout, more than a login's own statements. A connection found dead instead
    # fails its request with 503 database_unavailable, and SQLAlchemy then replaces every
    # pooled connection as old as it; pool_recycle retires idle connections before a
    # firewall or server idle timeout can cut them. The application name tells the API's
    # backends from the worker's in pg_stat_activity (and to the CPU benchmark).
    connect_args: dict[str, Any] = {"server_settings": {"application_name": application_name}}
    if transaction_pooled:
        connect_args.update(TRANSACTION_POOLER_ARGS)
    engine = create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=POOL_RECYCLE_SECONDS,
        hide_parameters=True,
    )
    _classify_connection_failures(engine)
    return engine


class Database:
    """Owns the engine and hands out the sessions described at the top of this module."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        application_name: str = "authsvc",
        transaction_pooled: bool = False,
    ) -> Database:
        return cls(create_engine(url, pool_size=pool_size, application_name=application_name,
                                 transaction_pooled=transaction_pooled))  # fmt: skip

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits on its own (no BEGIN/COMMIT trips)."""
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with AsyncSession(bind=connection) as session:
                yield session

    async def fetch_row(
        self, query: DriverQuery, params: Mapping[str, Any]
    ) -> asyncpg.Record | None:
        """The first row of `query`, run in autocommit on a pooled connection's driver.

        A server that is away is `DatabaseUnavailable` (503) whatever the driver called
        it, and the connection that found it so leaves the pool, as on SQLAlchemy's path.
        """
        pooled = await self.engine.raw_connection()
        driver: asyncpg.Connection = pooled.driver_connection  # type: ignore[assignment]
        try:
            row: asyncpg.Record | None = await driver.fetchrow(query.sql, *query.arguments(params))
        except asyncpg.PostgresError as error:
            if not _is_unavailable_state(error):
                pooled.close()  # the server answered: the connection is fine
                raise
            lost: BaseException = error
        except (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError) as error:
            # A socket error, a closed connection, or (asyncpg's first word on a connection
            # the server ended) a protocol out of step: SQLAlchemy calls each a disconnect.
            lost = error
        except BaseException:
            # Cancelled (the client went away): asyncpg cancels the statement on the
            # server and waits for that before the connection's next statement.
            pooled.close()
            raise
        else:
            pooled.close()  # back to the pool: no transaction to roll back, nothing awaited
            return row
        pooled.invalidate(lost)
        await greenlet_spawn(pooled.close)  # closing the driver's connection awaits
        raise DatabaseUnavailable(type(lost).__name__) from lost

    def connections_in_use(self) -> int:
        checked_out: int = self.engine.pool.checkedout()  # type: ignore[attr-defined]
        return checked_out

    async def dispose(self) -> None:
        await self.engine.dispose()
