"""read paths: trips indexed as their lists read them, (unit_id, id) and (applicant_id, id)
for keyset pages newest first, (state, id) for the dispatch queue, depart_at for date ranges;
provider orders by plate

Revision ID: 0014_read_indexes
Revises: 0013_provider_protocol
Create Date: 2026-12-04 15:30:00
"""
from alembic import op


revision = '0014_read_indexes'
down_revision = '0013_provider_protocol'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The composite indexes serve every lookup the single-column ones served.
    op.create_index('ix_trips_unit_id_id', 'trips', ['unit_id', 'id'])
    op.create_index('ix_trips_applicant_id_id', 'trips', ['applicant_id', 'id'])
    op.drop_index('ix_trips_unit_id', table_name='trips')
    op.drop_index('ix_trips_applicant_id', table_name='trips')
    op.create_index('ix_trips_depart_at', 'trips', ['depart_at'])
    op.create_index('ix_trips_state_id', 'trips', ['state', 'id'])
    op.create_index('ix_provider_orders_plate', 'provider_orders', ['plate'])


def downgrade() -> None:
    op.drop_index('ix_provider_orders_plate', table_name='provider_orders')
    op.drop_index('ix_trips_state_id', table_name='trips')
    op.drop_index('ix_trips_depart_at', table_name='trips')
    op.create_index('ix_trips_applicant_id', 'trips', ['applicant_id'])
    op.create_index('ix_trips_unit_id', 'trips', ['unit_id'])
    op.drop_index('ix_trips_applicant_id_id', table_name='trips')
    op.drop_index('ix_trips_unit_id_id', table_name='trips')
