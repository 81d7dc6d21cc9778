"""provider_orders: order_id_history, the provider's earlier ids of an order it reassigned
(DiDi gives a reassigned order a new id; callbacks for any of them find the trip)

Revision ID: 0013_provider_protocol
Revises: 0012_supervision
Create Date: 2026-12-04 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_provider_protocol'
down_revision = '0012_supervision'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('provider_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id_history', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('provider_orders', schema=None) as batch_op:
        batch_op.drop_column('order_id_history')
