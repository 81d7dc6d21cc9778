"""Engine, the request-scoped session, the declarative Base and the column types."""
from __future__ import annotations

import enum
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import DateTime, Enum, MetaData, Numeric, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.money import money, round_money

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _Cents(Numeric):
    """NUMERIC(12, 2) in the DDL, but the driver is handed and gives back integer cents."""

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        return None


class MoneyColumn(TypeDecorator):
    """CNY amount up to 9,999,999,999.99; always a Decimal in Python.

    PostgreSQL stores it as NUMERIC(12, 2). SQLite has no exact decimal storage (a NUMERIC
    column keeps a binary float, and SQL sums drift), so there the same column holds the
    amount in integer cents: exact when stored, summed in SQL and compared.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(_Cents(12, 2) if dialect.name == "sqlite" else self.impl)

    def process_bind_param(self, value: Any, dialect) -> Decimal | int | None:
        if value is None:
            return None
        amount = money(value)
        return int(amount.scaleb(2)) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return round_money(Decimal(value).scaleb(-2))
        return round_money(Decimal(value))


class UTCDateTime(TypeDecorator):
    """Aware datetime stored as UTC; SQLite's naive results come back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    """The column type of a ``cls`` value: its string value in a VARCHAR(24) (no native
    enum, so adding a member needs no type migration), checked against ``cls`` on write."""
    return Enum(cls, name=name, native_enum=False, length=24,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {Decimal: MoneyColumn(), datetime: UTCDateTime()}


# One session per thread (each request thread, the worker); removed at teardown.
session = scoped_session(sessionmaker(expire_on_commit=False))


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: orjson (several times faster than the standard library on a
    page's stops, passengers and histories); the standard library for what orjson refuses
    (``NaN``, integers beyond 64 bits), which ``json.dumps`` may have written."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str) -> Engine:
    """Build the engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        # No pre-ping: a database file does not drop connections the way a server does,
        # and the ping was one more statement (and GIL hand-off) on every request.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30},
            json_deserializer=json_loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy emit BEGIN itself so "BEGIN IMMEDIATE" can serialise writers.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: safe from
            # corruption, and a power cut may forget the last commits; FULL's fsync per
            # commit capped the embedded default at ~100 writes/s (vehicle positions).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "BEGIN")
            conn.exec_driver_sql(mode)

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         json_deserializer=json_loads)


def configure(url: str) -> Engine:
    engine = make_engine(url)
    bind(engine)
    return engine


def bind(target: Engine | Connection) -> None:
    """Point the app's sessions at ``target`` (this thread's current session is dropped).

    Given a connection with an open transaction (the tests' seam), every session joins it
    through a SAVEPOINT: a session's commit releases its SAVEPOINT, its rollback rolls back
    to it, and whoever owns the connection's transaction decides whether anything is kept.
    """
    session.remove()
    mode = "create_savepoint" if isinstance(target, Connection) else "conditional_savepoint"
    session.configure(bind=target, join_transaction_mode=mode)


def current_bind() -> Engine | Connection:
    """What the app's sessions are bound to now: the engine (a test's connection)."""
    return session.session_factory.kw["bind"]


def begin_write(sess=None) -> None:
    """Start the session's transaction as the database's only writer on SQLite.

    SQLite has one writer at a time; ``BEGIN IMMEDIATE`` takes that lock up front so a
    check-then-write cannot interleave with another one (the serialised write path).
    PostgreSQL relies on row locks and constraints instead. Must run before any other
    statement of the transaction; later calls in the same transaction do nothing.
    """
    sess = sess or session()
    if sess.in_transaction():
        return
    sess.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
