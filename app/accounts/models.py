"""Units (单位), users with roles, pooled and stationed vehicles, drivers."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, Float, ForeignKey, Numeric, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import Base, enum_column
from providers.base import VehicleClass


class Role(enum.StrEnum):
    TRAVELER = "traveler"
    APPROVER = "approver"
    PLATFORM_APPROVER = "platform_approver"
    DISPATCHER = "dispatcher"
    DRIVER = "driver"
    FINANCE = "finance"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


# Roles whose scope is the whole platform wherever they are held (SPEC §1); with any role
# held at the root unit they are platform roles, granted and revoked only by platform admins.
PLATFORM_ROLES = frozenset({Role.PLATFORM_APPROVER, Role.SUPERVISOR})


class UnitLevel(enum.StrEnum):
    CITY = "city"
    DISTRICT = "district"
    TOWN = "town"


class EnergyType(enum.StrEnum):
    PETROL = "petrol"
    DIESEL = "diesel"
    HYBRID = "hybrid"
    PHEV = "phev"
    ELECTRIC = "electric"

    @property
    def is_nev(self) -> bool:
        """New-energy vehicle (新能源): battery-electric or plug-in hybrid."""
        return self in (EnergyType.ELECTRIC, EnergyType.PHEV)


class VehicleStatus(enum.StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class Unit(Base):
    """A node of the unit tree: city → district/county-level city → town/street."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[UnitLevel] = mapped_column(enum_column(UnitLevel, "unit_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    # Materialised path "/1/4/9/" so a subtree is one prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id])

    def contains(self, other: "Unit") -> bool:
        return other.path.startswith(self.path)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Access tokens carry the generation they were issued in; only the current one is
    # honoured. A console password change or reset moves it on (app/auth/passwords.py).
    token_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    unit: Mapped[Unit] = relationship(lazy="joined")
    role_rows: Mapped[list["UserRole"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="user")

    @property
    def roles(self) -> list[str]:
        return sorted(r.role.value for r in self.role_rows)

    def has_role(self, *roles: Role | str) -> bool:
        mine = set(self.roles)
        return any((r.value if isinstance(r, Role) else r) in mine for r in roles)

    def set_roles(self, roles: list[str]) -> None:
        wanted = {Role(r) for r in roles}
        self.role_rows = [r for r in self.role_rows if r.role in wanted]
        have = {r.role for r in self.role_rows}
        self.role_rows.extend(UserRole(role=r) for r in sorted(wanted - have, key=str))


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))

    user: Mapped[User] = relationship(back_populates="role_rows")


class Vehicle(Base):
    __tablename__ = "vehicles"
    __table_args__ = (CheckConstraint("seats > 0", name="seats_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    vehicle_class: Mapped[VehicleClass] = mapped_column(enum_column(VehicleClass, "vehicle_class"))
    seats: Mapped[int]
    energy_type: Mapped[EnergyType] = mapped_column(enum_column(EnergyType, "energy_type"))
    # Pooled vehicles serve the whole platform; stationed ones sit at ``unit_id``.
    pooled: Mapped[bool] = mapped_column(Boolean, default=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    odometer_km: Mapped[Decimal] = mapped_column(Numeric(10, 1), default=Decimal("0"))
    # When ``odometer_km`` was read: the next reading is judged against it (SPEC §6.1).
    odometer_at: Mapped[datetime] = mapped_column(default=clock.now)
    status: Mapped[VehicleStatus] = mapped_column(
        enum_column(VehicleStatus, "vehicle_status"), default=VehicleStatus.AVAILABLE)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Positioning (SPEC §6.3): the terminal's identifier at the gateway (Traccar's
    # ``uniqueId``, an IMEI for most terminals; OsmAnd's ``id``), the SHA-256 of the key a
    # phone sends with OsmAnd fixes, and the home depot (WGS-84) it parks at overnight.
    device_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    device_key_sha256: Mapped[str | None] = mapped_column(String(64))
    depot_lat: Mapped[float | None] = mapped_column(Float)
    depot_lng: Mapped[float | None] = mapped_column(Float)

    unit: Mapped[Unit] = relationship(lazy="joined")

    @property
    def nev(self) -> bool:
        return EnergyType(self.energy_type).is_nev


_CARS = frozenset({VehicleClass.SEDAN, VehicleClass.MPV})
# The vehicle classes each licence class may drive (准驾车型): A1 large buses and everything
# below; A2 and B1 also minibuses; A3, B2 and C1 cars only.
LICENCE_VEHICLE_CLASSES = {
    "A1": _CARS | {VehicleClass.MINIBUS, VehicleClass.BUS},
    "A2": _CARS | {VehicleClass.MINIBUS},
    "B1": _CARS | {VehicleClass.MINIBUS},
    "A3": _CARS,
    "B2": _CARS,
    "C1": _CARS,
}


class Driver(Base):
    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(20))
    license_class: Mapped[str] = mapped_column(String(4), default="B1")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    unit: Mapped[Unit] = relationship(lazy="joined")

    def may_drive(self, vehicle_class: VehicleClass | str) -> bool:
        """Whether the licence class allows the vehicle class."""
        return VehicleClass(vehicle_class) in LICENCE_VEHICLE_CLASSES.get(self.license_class, ())
