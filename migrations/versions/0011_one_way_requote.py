"""trips: one_way (the route estimate is out and back unless set)

Revision ID: 0011_one_way_requote
Revises: 0010_odometer_at
Create Date: 2026-12-04 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_one_way_requote'
down_revision = '0010_odometer_at'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('trips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('one_way', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('trips', schema=None) as batch_op:
        batch_op.drop_column('one_way')
