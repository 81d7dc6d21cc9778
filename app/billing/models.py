"""Tariff versions and the charge of each trip (provisional at finish, final at confirmation)."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import Base, enum_column
from app.trips.models import Channel


class TariffKind(enum.StrEnum):
    FLEET = "fleet"      # 有偿使用 paid-use tariff of the pooled fleet (SPEC §5.1)
    RENTAL = "rental"    # 框架协议 framework-agreement ceiling for rental companies (SPEC §5.2)


class TariffVersion(Base):
    """One version of a tariff; the version in force when a trip started prices it."""

    __tablename__ = "tariff_versions"
    __table_args__ = (UniqueConstraint("kind", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TariffKind] = mapped_column(enum_column(TariffKind, "tariff_kind"))
    effective_from: Mapped[date] = mapped_column(Date)
    data: Mapped[dict] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Charge(Base):
    """What one trip costs its unit, with the lines that make up the total."""

    __tablename__ = "charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    # Who is paid: "fleet" (the fleet centre) or the provider's configured name.
    supplier: Mapped[str] = mapped_column(String(40))
    # Our order id as the supplier knows it; reconciliation matches on it.
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    total: Mapped[Decimal]
    estimate: Mapped[Decimal | None]
    market_reference: Mapped[Decimal | None]
    savings: Mapped[Decimal | None]
    flags: Mapped[list] = mapped_column(JSON, default=list)
    # Rental: our discounted agreement ceiling for the trip, computed when the bill came.
    ceiling: Mapped[Decimal | None]
    # Over the agreement ceiling: its settlement line is held as disputed (SPEC §5.2) until
    # platform finance accepts the bill or caps it at the ceiling.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    tariff_version_id: Mapped[int | None] = mapped_column(ForeignKey("tariff_versions.id"))
    finished_at: Mapped[datetime]
    final: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    auto_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(default=clock.now)
    finalized_at: Mapped[datetime | None]

    lines: Mapped[list["ChargeLine"]] = relationship(
        order_by="ChargeLine.id", cascade="all, delete-orphan", lazy="selectin")


class ChargeLine(Base):
    __tablename__ = "charge_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal]
