"""Vehicle positions (全市一张网): every fix by vehicle and time, the latest one per vehicle,
and the devices the gateways sent that no vehicle carries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import Base

# PostgreSQL keeps one partition per month (``positions_pYYYYMM``) in their own schema, so
# that the application schema lists one table; app/positions/partitions.py manages them.
PARTITION_SCHEMA = "position_parts"


class Position(Base):
    """One fix of a vehicle's terminal, WGS-84, as the gateway reported it (speed in km/h).

    Keyed by (vehicle, fix time): a fix sent twice is stored once. Absurd fixes (0,0; a jump
    no vehicle can make; the device's own "invalid") are kept with ``valid`` false and the
    reason in ``flaw``: tracks, distances and rules read valid fixes only."""

    __tablename__ = "positions"
    # Rows cluster by (vehicle, time) on SQLite too (WITHOUT ROWID): a track is one range.
    __table_args__ = {"postgresql_partition_by": "RANGE (at)", "sqlite_with_rowid": False}

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    course: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    flaw: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8))
    attributes: Mapped[dict | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=clock.now)


class LatestPosition(Base):
    """The newest valid fix of each vehicle: the live map is one small query over this."""

    __tablename__ = "latest_positions"

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    at: Mapped[datetime]
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    course: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(default=clock.now)


class UnknownDevice(Base):
    """A device id a gateway or phone sent that no vehicle carries: refused, and counted here
    so an admin sees which terminal still needs registering."""

    __tablename__ = "unknown_devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(8))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_at: Mapped[datetime] = mapped_column(default=clock.now)

