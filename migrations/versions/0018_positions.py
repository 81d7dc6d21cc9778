"""positions: every fix by (vehicle, time), monthly partitions on PostgreSQL, the latest fix
per vehicle, unknown devices; vehicles' device id, device key and home depot

On PostgreSQL ``positions`` is partitioned by range of ``at``; the partitions (schema
``position_parts``, one per month) from a year back to three months ahead are made here,
and the worker's ``positions.partitions`` job keeps them ahead and drops expired ones.

Revision ID: 0018_positions
Revises: 0017_console_accounts
Create Date: 2026-12-04 14:58:55.447071
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0018_positions'
down_revision = '0017_console_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unknown_devices',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_unknown_devices'))
    )
    op.create_table('latest_positions',
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('course', sa.Float(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_latest_positions_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('vehicle_id', name=op.f('pk_latest_positions'))
    )
    op.create_table('positions',
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('course', sa.Float(), nullable=True),
    sa.Column('altitude', sa.Float(), nullable=True),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('valid', sa.Boolean(), nullable=False),
    sa.Column('flaw', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_positions_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('vehicle_id', 'at', name=op.f('pk_positions')),
    postgresql_partition_by='RANGE (at)',
    sqlite_with_rowid=False
    )
    if op.get_bind().dialect.name == 'postgresql':
        _partitions()
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('device_key_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('depot_lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('depot_lng', sa.Float(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_vehicles_device_id'), ['device_id'])



def _month(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def _partitions() -> None:
    """One partition per month from 12 months back to 3 ahead (the job's defaults)."""
    op.execute("CREATE SCHEMA IF NOT EXISTS position_parts")
    now = datetime.now(timezone.utc)
    current = now.year * 12 + now.month - 1
    for index in range(current - 12, current + 4):
        start, end = _month(index), _month(index + 1)
        op.execute(f"CREATE TABLE position_parts.positions_p{start:%Y%m} PARTITION OF positions "
                   f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")


def downgrade() -> None:
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_vehicles_device_id'), type_='unique')
        batch_op.drop_column('depot_lng')
        batch_op.drop_column('depot_lat')
        batch_op.drop_column('device_key_sha256')
        batch_op.drop_column('device_id')

    op.drop_table('positions')  # its partitions with it
    op.drop_table('latest_positions')
    op.drop_table('unknown_devices')
