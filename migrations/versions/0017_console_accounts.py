"""console_accounts: password sign-in for the web console (argon2 hashes, one-time password
changed at first sign-in, lockout after repeated failures); reconciliation_runs: the kept
history of supplier statement uploads

Revision ID: 0017_console_accounts
Revises: 0016_notifications
Create Date: 2026-12-04 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_console_accounts'
down_revision = '0016_notifications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_accounts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('must_change', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_console_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_console_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_console_accounts_username'))
    )
    op.create_table('reconciliation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_reconciliation_runs_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs'))
    )
    with op.batch_alter_table('reconciliation_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_runs_period'), ['period'], unique=False)


def downgrade() -> None:
    op.drop_table('reconciliation_runs')
    op.drop_table('console_accounts')
