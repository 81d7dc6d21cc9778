"""provider_orders: last_version, the highest callback version applied (a provider that
versions its callbacks, as partner platforms do, may take an assignment back)

Revision ID: 0020_callback_versions
Revises: 0019_token_generation
Create Date: 2026-12-04 18:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_callback_versions'
down_revision = '0019_token_generation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('provider_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('provider_orders', schema=None) as batch_op:
        batch_op.drop_column('last_version')
