"""money on SQLite: integer cents instead of binary floats (PostgreSQL keeps NUMERIC(12, 2))

SQLite stored every NUMERIC(12, 2) amount as a REAL, so a sum such as a statement total
read 2479.949999999999. The column type stays; app.db.MoneyColumn now writes integer cents
there, and this revision converts the amounts already stored.

Revision ID: 0009_money_cents
Revises: 0008_order_state
Create Date: 2026-12-02 12:00:00
"""
from alembic import op


revision = '0009_money_cents'
down_revision = '0008_order_state'
branch_labels = None
depends_on = None

MONEY_COLUMNS = {
    'charge_lines': ('amount',),
    'charges': ('total', 'estimate', 'market_reference', 'savings', 'ceiling'),
    'offers': ('price',),
    'provider_orders': ('cancel_fee',),
    'settlement_lines': ('amount',),
    'settlements': ('total',),
    'trip_runs': ('tolls', 'parking', 'lodging'),
    'trips': ('estimate', 'cancellation_fee'),
}


def _convert(expression: str) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in MONEY_COLUMNS.items():
        op.execute(f"UPDATE {table} SET " + ", ".join(
            f"{column} = {expression.format(column=column)}" for column in columns))


def upgrade() -> None:
    _convert("CAST(ROUND({column} * 100) AS INTEGER)")


def downgrade() -> None:
    _convert("ROUND({column} / 100.0, 2)")
