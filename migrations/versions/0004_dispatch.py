"""dispatch: assignments without double booking, driver trip runs, disputes, trip dispatch fields

PostgreSQL guarantees "no vehicle or driver in two overlapping active assignments" with two
exclusion constraints over the busy range [starts_at, busy_until); SQLite has no such
constraint and relies on the serialised write path (BEGIN IMMEDIATE) instead.

Revision ID: 0004_dispatch
Revises: 0003_approvals
Create Date: 2026-11-25 06:22:59.650807
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_dispatch'
down_revision = '0003_approvals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trip_id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('busy_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('auto', sa.Boolean(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('release_reason', sa.Enum('reassigned', 'unassigned', 'cancelled', 'finished', name='release_reason', native_enum=False, length=24), nullable=True),
    sa.Column('release_comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_assignments_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_assignments_driver_id_drivers')),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_assignments_released_by_id_users')),
    sa.ForeignKeyConstraint(['trip_id'], ['trips.id'], name=op.f('fk_assignments_trip_id_trips'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_assignments_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')  # "=" on integers in a GiST index
        for column in ('vehicle_id', 'driver_id'):
            op.execute(f"ALTER TABLE assignments ADD CONSTRAINT "
                       f"ex_assignments_{column.removesuffix('_id')}_busy EXCLUDE USING gist "
                       f"({column} WITH =, tstzrange(starts_at, busy_until) WITH &&) WHERE (active)")
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_driver_id'), ['driver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_trip_id'), ['trip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_vehicle_id'), ['vehicle_id'], unique=False)
        batch_op.create_index('uq_assignments_trip_active', ['trip_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    op.create_table('trip_disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trip_id', sa.Integer(), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_trip_disputes_closed_by_id_users')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_trip_disputes_raised_by_id_users')),
    sa.ForeignKeyConstraint(['trip_id'], ['trips.id'], name=op.f('fk_trip_disputes_trip_id_trips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trip_disputes'))
    )
    with op.batch_alter_table('trip_disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trip_disputes_trip_id'), ['trip_id'], unique=False)

    op.create_table('trip_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trip_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_odometer_km', sa.Numeric(precision=10, scale=1), nullable=False),
    sa.Column('odometer_gap_km', sa.Numeric(precision=10, scale=1), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_odometer_km', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('km', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('tolls', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('parking', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('lodging', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('waiting_minutes', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_trip_runs_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_trip_runs_driver_id_drivers')),
    sa.ForeignKeyConstraint(['trip_id'], ['trips.id'], name=op.f('fk_trip_runs_trip_id_trips'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_trip_runs_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trip_runs')),
    sa.UniqueConstraint('trip_id', name=op.f('uq_trip_runs_trip_id'))
    )
    with op.batch_alter_table('trip_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trip_runs_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trip_runs_driver_id'), ['driver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trip_runs_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_trip_runs_vehicle_id'), ['vehicle_id'], unique=False)

    with op.batch_alter_table('trips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_issue', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cancellation_fee', sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trips', schema=None) as batch_op:
        batch_op.drop_column('cancellation_fee')
        batch_op.drop_column('dispatch_issue')

    with op.batch_alter_table('trip_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trip_runs_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_trip_runs_finished_at'))
        batch_op.drop_index(batch_op.f('ix_trip_runs_driver_id'))
        batch_op.drop_index(batch_op.f('ix_trip_runs_assignment_id'))

    op.drop_table('trip_runs')
    with op.batch_alter_table('trip_disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trip_disputes_trip_id'))

    op.drop_table('trip_disputes')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('uq_assignments_trip_active', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_assignments_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_trip_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_driver_id'))

    op.drop_table('assignments')
