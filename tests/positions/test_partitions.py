"""Monthly partitions made ahead by the worker, expired fixes dropped after the retention."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, text

from app import db, worker
from app.positions import partitions
from app.positions.models import Position

UTC = timezone.utc


@pytest.mark.parametrize("now, months, first", [
    (datetime(2026, 12, 4, tzinfo=UTC), 12, datetime(2025, 12, 1, tzinfo=UTC)),
    (datetime(2026, 1, 1, tzinfo=UTC), 1, datetime(2025, 12, 1, tzinfo=UTC)),
    (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), 0, datetime(2026, 3, 1, tzinfo=UTC)),
])
def test_retention_keeps_whole_months(now, months, first):
    assert partitions.retention_start(now, months) == first


def test_wanted_months_span_the_retention_and_the_months_ahead():
    months = partitions.wanted_months(datetime(2026, 11, 15, tzinfo=UTC), retention_months=2,
                                      ahead=2)
    assert [partitions.partition_name(m) for m in months] == [
        "positions_p202609", "positions_p202610", "positions_p202611", "positions_p202612",
        "positions_p202701"]


def _vehicle_id(session) -> int:
    return session.execute(text("SELECT min(id) FROM vehicles")).scalar_one()


def _fix(vehicle_id: int, at: datetime) -> dict:
    return dict(vehicle_id=vehicle_id, at=at, lat=31.78, lng=119.95, valid=True,
                source="traccar", received_at=at)


def test_the_worker_makes_partitions_ahead_and_drops_expired_months(app, demo, session):
    later = datetime.now(UTC) + timedelta(days=200)
    vehicle = _vehicle_id(session)
    old = partitions.add_months(partitions.month_start(later), -3)
    session.execute(insert(Position).values(_fix(vehicle, old + timedelta(hours=1))))
    session.commit()
    app.config.update(POSITION_RETENTION_MONTHS=2, POSITION_PARTITIONS_AHEAD=2)
    try:
        handled = worker.run_due(now=later, names=["positions.partitions"])
    finally:
        app.config.update(POSITION_RETENTION_MONTHS=12, POSITION_PARTITIONS_AHEAD=3)
    assert handled["positions.partitions"] > 0
    remaining = db.session.scalar(select(func.count()).select_from(Position)
                                  .where(Position.at < partitions.retention_start(later, 2)))
    assert remaining == 0
    ahead = partitions.add_months(partitions.month_start(later), 2) + timedelta(days=3)
    db.session.execute(insert(Position).values(_fix(vehicle, ahead)))  # its partition exists
    assert db.session.scalar(select(func.count()).select_from(Position)
                             .where(Position.at == ahead)) == 1
    if db.session.get_bind().dialect.name == "postgresql":
        names = set(db.session.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'positions'")).scalars())
        wanted = {partitions.partition_name(m) for m in partitions.wanted_months(
            later, retention_months=2, ahead=2)}
        assert wanted <= names
        assert partitions.partition_name(old) not in names
