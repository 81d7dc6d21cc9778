"""billing: the rental agreement ceiling stored with a provider bill's charge

Revision ID: 0007_charge_ceiling
Revises: 0006_orders
Create Date: 2026-11-25 10:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_charge_ceiling'
down_revision = '0006_orders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ceiling', sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_column('ceiling')
