"""Monthly partitions of ``positions`` on PostgreSQL, and the retention of old fixes.

``positions`` is declaratively partitioned by range of ``at``, one partition per calendar
month (UTC), named ``positions_pYYYYMM`` in the schema ``position_parts``. The worker's
``positions.partitions`` job keeps partitions from the oldest retained month to
``POSITION_PARTITIONS_AHEAD`` months ahead, and drops whole months older than the retention
(dropping a partition is instant and leaves no bloat, unlike a DELETE). On SQLite the same
job deletes the expired rows. The ingest refuses fixes older than the retention, so no
fix ever needs a partition the job did not make.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import delete, text

from app import db
from app.positions.models import PARTITION_SCHEMA, Position

_NAME = re.compile(r"^positions_p(\d{4})(\d{2})$")


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def retention_start(now: datetime, months: int) -> datetime:
    """The first instant kept: the start of the month ``months`` before this one (12 at any
    time in December 2026 keeps December 2025 on)."""
    return add_months(month_start(now), -months)


def partition_name(month: datetime) -> str:
    return f"positions_p{month.year:04d}{month.month:02d}"


def wanted_months(now: datetime, *, retention_months: int, ahead: int) -> list[datetime]:
    first, last = retention_start(now, retention_months), add_months(month_start(now), ahead)
    months, month = [], first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def _existing(connection) -> dict[str, datetime]:
    rows = connection.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'positions'")).scalars()
    found = {}
    for name in rows:
        match = _NAME.match(name)
        if match:
            found[name] = datetime(int(match[1]), int(match[2]), 1, tzinfo=timezone.utc)
    return found


def maintain(session, now: datetime, *, retention_months: int, ahead: int) -> dict[str, int]:
    """Create the missing monthly partitions and drop (PostgreSQL) or delete (SQLite) what
    is older than the retention; returns how many partitions were created and dropped and
    rows deleted."""
    db.begin_write(session)
    connection = session.connection()
    cutoff = retention_start(now, retention_months)
    if connection.dialect.name != "postgresql":
        deleted = session.execute(delete(Position).where(Position.at < cutoff)).rowcount
        return {"created": 0, "dropped": 0, "deleted": deleted or 0}
    # Two workers running this at once would race on CREATE TABLE: one waits for the other.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('positions.partitions'))"))
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}"))
    existing = _existing(connection)
    created = 0
    for month in wanted_months(now, retention_months=retention_months, ahead=ahead):
        name = partition_name(month)
        if name in existing:
            continue
        connection.execute(text(
            f"CREATE TABLE {PARTITION_SCHEMA}.{name} PARTITION OF positions FOR VALUES "
            f"FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}')"))
        created += 1
    dropped = 0
    for name, month in existing.items():
        if add_months(month, 1) <= cutoff:
            connection.execute(text(f"DROP TABLE {PARTITION_SCHEMA}.{name}"))
            dropped += 1
    return {"created": created, "dropped": dropped, "deleted": 0}
