"""The database: the SQLAlchemy object, the model base, and transaction and row-lock helpers.

SQLite is the embedded default and PostgreSQL the production database; everything here works
on both. On SQLite the driver's own transaction handling is switched off so that this module
decides how each transaction begins: a plain ``BEGIN`` normally, ``BEGIN IMMEDIATE`` inside
:func:`write_transaction`, which takes the database's write lock before the first read.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of every model."""


naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Base.metadata.naming_convention = naming_convention

db = SQLAlchemy(model_class=Base)

_begin_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "begin_immediate", default=False
)


class Busy(Exception):
    """The database did not grant a lock in time. Callers answer "busy, please try again"."""


def utcnow() -> datetime:
    """Now, as an aware UTC datetime. Every stored time is UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as UTC and always read back as an aware UTC datetime.

    SQLite has no time zones; PostgreSQL's ``timestamptz`` does. This type gives both the same
    behaviour: naive values are refused, so a local time can never be stored by mistake.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def is_sqlite(engine: sa.Engine | None = None) -> bool:
    """True when the app's database is SQLite."""
    engine = engine or db.engine
    return engine.dialect.name == "sqlite"


def configure_engine(engine: sa.Engine, lock_timeout_seconds: float) -> None:
    """Set per-connection options: on SQLite WAL, foreign keys, busy timeout and our own BEGIN;
    on PostgreSQL no JIT compilation (it spends more time compiling the reports' queries, a
    fraction of a second each, than it could save)."""
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _on_pg_connect(dbapi_connection, _record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET jit = off")
            dbapi_connection.commit()

        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_seconds * 1000)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _begin_immediate.get() else "BEGIN")


def prefer_write_lock(prefer: bool) -> None:
    """Begin this context's transactions with the write lock (SQLite ``BEGIN IMMEDIATE``).

    Called for every request that may write (POST and the like). On SQLite a transaction that
    reads first and writes later cannot wait for the lock if another writer committed in
    between (it fails at once with "database is locked"); taking the lock at the start lets it
    wait up to ``DATABASE_LOCK_TIMEOUT_SECONDS`` instead. No effect on PostgreSQL.
    """
    _begin_immediate.set(prefer)


def in_write_transaction() -> bool:
    """True inside :func:`write_transaction` (or a request that may write): counts read now
    must be fresh, never taken from a per-request cache."""
    return _begin_immediate.get()


def is_lock_error(error: BaseException) -> bool:
    """True when ``error`` is the database refusing or timing out a lock."""
    return isinstance(error, OperationalError) and _is_lock_error(error)


def is_unreachable(error: BaseException) -> bool:
    """True when ``error`` is the database having gone away (restarted, the network to it
    down, a connection it dropped), as opposed to a query that went wrong."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError) and not _is_lock_error(error)


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block as one transaction that may lock rows, then commit it.

    Whatever the session had pending is committed first, so the block starts a fresh
    transaction. On SQLite that transaction begins with ``BEGIN IMMEDIATE`` (the database-wide
    write lock, taken before anything is read); on PostgreSQL it sets ``lock_timeout`` so
    :func:`lock_row` waits at most ``DATABASE_LOCK_TIMEOUT_SECONDS``. Any exception rolls the
    whole block back. A lock not granted in time raises :class:`Busy`; nothing is written.
    """
    from flask import current_app

    session = db.session
    session.commit()
    token = _begin_immediate.set(True)
    try:
        try:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                timeout_ms = int(current_app.config["DATABASE_LOCK_TIMEOUT_SECONDS"] * 1000)
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
        except OperationalError as error:
            session.rollback()
            raise Busy() from error
        yield
        session.commit()
    except OperationalError as error:
        session.rollback()
        if _is_lock_error(error):
            raise Busy() from error
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        _begin_immediate.reset(token)


def _is_lock_error(error: OperationalError) -> bool:
    text = str(error.orig).lower()
    return (
        "database is locked" in text
        or "lock timeout" in text
        or "canceling statement due to lock timeout" in text
        or getattr(error.orig, "sqlstate", None) in {"55P03", "40P01"}
    )


def lock_row(model: type[Base], row_id: int):
    """Lock one row for the rest of the current :func:`write_transaction` and return it.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite: the transaction already holds the write lock,
    so a plain read is enough. Returns ``None`` when there is no such row.
    """
    statement = (
        sa.select(model).where(model.id == row_id).execution_options(populate_existing=True)
    )
    if not is_sqlite():
        statement = statement.with_for_update()
    return db.session.execute(statement).scalar_one_or_none()


def insert_ignoring_conflicts(table: sa.Table, values: dict | list[dict]):
    """``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL: rows that clash with a
    unique key are skipped, so two transactions racing to create the same row both succeed
    and it exists once. Add ``.returning(...)`` to learn whether this one inserted it."""
    if is_sqlite():
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert(table).values(values).on_conflict_do_nothing()


def skip_locked(statement: sa.Select) -> sa.Select:
    """Add ``FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL), for work queues."""
    if is_sqlite():
        return statement
    return statement.with_for_update(skip_locked=True)
