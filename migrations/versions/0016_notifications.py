"""subscription_grants (one-time WeChat grants per user and template, spent one per send) and
user_messages (the in-app message centre every notification lands in)

Revision ID: 0016_notifications
Revises: 0015_partners
Create Date: 2026-12-04 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_notifications'
down_revision = '0015_partners'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscription_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscription_grants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_grants')),
    sa.UniqueConstraint('user_id', 'template_id', name='uq_subscription_grants_user_template')
    )
    op.create_table('user_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=60), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=False),
    sa.Column('ref', sa.String(length=60), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_messages.id'], name=op.f('fk_user_messages_outbox_id_outbox_messages')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_messages_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_messages'))
    )
    with op.batch_alter_table('user_messages', schema=None) as batch_op:
        batch_op.create_index('ix_user_messages_user_read', ['user_id', 'read_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('user_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_user_messages_user_read')

    op.drop_table('user_messages')
    op.drop_table('subscription_grants')
