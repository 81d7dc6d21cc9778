"""vehicles: odometer_at, when the vehicle's odometer reading was recorded (plausibility of
the next reading: SPEC §6.1, at most 150 km/h since then)

Revision ID: 0010_odometer_at
Revises: 0009_money_cents
Create Date: 2026-12-02 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_odometer_at'
down_revision = '0009_money_cents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('odometer_at', sa.DateTime(timezone=True), nullable=True))
    # The last reading is the latest run's (its finish, else its start), else the one the
    # vehicle was registered with.
    op.execute("UPDATE vehicles SET odometer_at = COALESCE("
               "(SELECT MAX(COALESCE(r.finished_at, r.started_at)) FROM trip_runs r "
               "WHERE r.vehicle_id = vehicles.id), created_at)")
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.alter_column('odometer_at', existing_type=sa.DateTime(timezone=True),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_column('odometer_at')
