"""orders: the provider order's state is the OrderState enum (VARCHAR(24), like every state)

Revision ID: 0008_order_state
Revises: 0007_charge_ceiling
Create Date: 2026-12-02 11:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_order_state'
down_revision = '0007_charge_ceiling'
branch_labels = None
depends_on = None

ORDER_STATE = sa.Enum('pending', 'booking', 'failed', 'created', 'assigned', 'arrived', 'in_trip',
                      'completed', 'paid', 'cancelled', name='order_state', native_enum=False,
                      length=24)


def upgrade() -> None:
    with op.batch_alter_table('provider_orders', schema=None) as batch_op:
        batch_op.alter_column('state', existing_type=sa.String(length=20), type_=ORDER_STATE,
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('provider_orders', schema=None) as batch_op:
        batch_op.alter_column('state', existing_type=ORDER_STATE, type_=sa.String(length=20),
                              existing_nullable=False)
