"""Vehicle and driver assignments (派车), the driver's trip facts, passengers' disputes."""
from __future__ import annotations

import enum
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.accounts.models import Driver, Vehicle
from app.db import Base, enum_column
from app.trips.models import Trip

# Turnaround between two tasks of one vehicle or one driver.
BUFFER = timedelta(minutes=30)


class ReleaseReason(enum.StrEnum):
    REASSIGNED = "reassigned"
    UNASSIGNED = "unassigned"
    CANCELLED = "cancelled"
    FINISHED = "finished"


def _busy_range_excluded(column: str, name: str) -> ExcludeConstraint:
    """PostgreSQL: no two active rows with the same ``column`` whose busy ranges overlap."""
    return ExcludeConstraint(
        (column, "="), (func.tstzrange(text("starts_at"), text("busy_until")), "&&"),
        name=name, using="gist", where=text("active"))


class Assignment(Base):
    """One vehicle and one driver for one trip's window; inactive once released.

    The busy range is ``[starts_at, busy_until)`` with ``busy_until = ends_at + BUFFER``, so
    two tasks of one vehicle (or driver) need a gap of at least ``BUFFER`` between them.
    PostgreSQL enforces that with exclusion constraints; SQLite with its single writer
    (``db.begin_write``) around the check in ``availability``.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        _busy_range_excluded("vehicle_id", "ex_assignments_vehicle_busy"),
        _busy_range_excluded("driver_id", "ex_assignments_driver_busy"),
        # At most one active assignment per trip.
        Index("uq_assignments_trip_active", "trip_id", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    busy_until: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=clock.now)
    reason: Mapped[str] = mapped_column(Text, default="")
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_reason: Mapped[ReleaseReason | None] = mapped_column(
        enum_column(ReleaseReason, "release_reason"))
    release_comment: Mapped[str] = mapped_column(Text, default="")

    trip: Mapped[Trip] = relationship()
    vehicle: Mapped[Vehicle] = relationship(lazy="joined")
    driver: Mapped[Driver] = relationship(lazy="joined")

    @classmethod
    def for_window(cls, trip: Trip, **fields) -> "Assignment":
        return cls(trip=trip, starts_at=trip.depart_at, ends_at=trip.return_at,
                   busy_until=trip.return_at + BUFFER, active=True, **fields)

    def release(self, why: ReleaseReason, *, actor_id: int | None, comment: str = "",
                at: datetime | None = None) -> None:
        self.active = False
        self.release_reason = why
        self.released_by_id = actor_id
        self.release_comment = comment
        self.released_at = at or clock.now()


class TripRun(Base):
    """What actually happened on a fleet trip, as the driver recorded it (行车记录)."""

    __tablename__ = "trip_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), unique=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    started_at: Mapped[datetime]
    start_odometer_km: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    # Distance the vehicle moved since its last recorded reading (账实相符 checks).
    odometer_gap_km: Mapped[Decimal] = mapped_column(Numeric(10, 1), default=Decimal("0"))
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    end_odometer_km: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    km: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    tolls: Mapped[Decimal | None]
    parking: Mapped[Decimal | None]
    lodging: Mapped[Decimal | None]
    waiting_minutes: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)

    trip: Mapped[Trip] = relationship()


class TripDispute(Base):
    """A passenger's objection to a completed trip's mileage or charge (异议)."""

    __tablename__ = "trip_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), index=True)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(default=clock.now)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str] = mapped_column(Text, default="")

    trip: Mapped[Trip] = relationship(lazy="joined")
