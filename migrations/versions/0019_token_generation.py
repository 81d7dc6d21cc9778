"""users: token_generation, the generation of access tokens still honoured (a console password
change or reset moves it on, so every token issued before stops working)

Revision ID: 0019_token_generation
Revises: 0018_positions
Create Date: 2026-12-04 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_token_generation'
down_revision = '0018_positions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_generation', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_generation')
