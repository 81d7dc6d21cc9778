"""Models and migrations never drift; every revision downgrades cleanly."""
import sqlite3
from contextlib import closing
from decimal import Decimal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from app.migrate import alembic_config, upgrade
from app.models import metadata
from app.settlements.models import Settlement


def _drift(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    return diff


def test_upgrade_head_matches_models(database_url):
    # database_url was built by `alembic upgrade head` on an empty database
    assert _drift(database_url) == []


def test_downgrade_to_base_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    assert _drift(url) == []


def test_sqlite_money_becomes_integer_cents_and_back(tmp_path):
    """Amounts stored as binary floats before 0009 read back as the same Decimal after it."""
    path = tmp_path / "money.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url, "0008_order_state")
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("INSERT INTO settlements (period, unit_id, supplier, state, total, line_count,"
                    " generated_at) VALUES ('2026-10', 1, 'fleet', 'draft', ?, 2, '2026-11-01')",
                    (2479.949999999999,))
    upgrade(url)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("SELECT total FROM settlements").fetchall() == [(247995,)]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(Settlement.total)) == Decimal("2479.95")
    engine.dispose()
    command.downgrade(alembic_config(url), "0008_order_state")
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("SELECT total FROM settlements").fetchall() == [(2479.95,)]
