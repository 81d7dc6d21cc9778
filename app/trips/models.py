"""Trips (用车申请), their audited state history, and the offers quoted for them."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import audit, clock
from app.accounts.models import Unit, User, VehicleClass
from app.db import Base, enum_column
from app.errors import IllegalTransition


class TripState(enum.StrEnum):
    DRAFT = "draft"
    QUOTED = "quoted"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    SETTLED = "settled"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Purpose(enum.StrEnum):
    MEETING = "meeting"
    INSPECTION = "inspection"
    ENFORCEMENT = "enforcement"
    EMERGENCY = "emergency"
    RECEPTION = "reception"
    OTHER = "other"


class Channel(enum.StrEnum):
    FLEET = "fleet"
    RENTAL = "rental"
    RIDEHAIL = "ridehail"


S = TripState
# Every legal move. Emergency trips (先用后补) may be dispatched while approval is pending.
TRANSITIONS: dict[TripState, set[TripState]] = {
    S.DRAFT: {S.QUOTED, S.CANCELLED},
    S.QUOTED: {S.QUOTED, S.PENDING_APPROVAL, S.CANCELLED},
    S.PENDING_APPROVAL: {S.APPROVED, S.REJECTED, S.WITHDRAWN, S.EXPIRED, S.DISPATCHED,
                         S.CANCELLED},
    S.APPROVED: {S.DISPATCHED, S.CANCELLED},
    S.DISPATCHED: {S.IN_PROGRESS, S.APPROVED, S.PENDING_APPROVAL, S.REJECTED, S.CANCELLED,
                   S.COMPLETED},
    S.IN_PROGRESS: {S.COMPLETED},
    S.COMPLETED: {S.CONFIRMED},
    S.CONFIRMED: {S.SETTLED},
}


class Trip(Base):
    __tablename__ = "trips"
    __table_args__ = (Index("ix_trips_state_depart", "state", "depart_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[TripState] = mapped_column(enum_column(TripState, "trip_state"), default=S.DRAFT)
    purpose_category: Mapped[Purpose] = mapped_column(enum_column(Purpose, "purpose"))
    purpose_text: Mapped[str] = mapped_column(String(200), default="")
    passengers: Mapped[list] = mapped_column(JSON, default=list)
    stops: Mapped[list] = mapped_column(JSON, default=list)
    depart_at: Mapped[datetime]
    return_at: Mapped[datetime]
    vehicle_class: Mapped[VehicleClass | None] = mapped_column(enum_column(VehicleClass, "vehicle_class"))
    cross_region: Mapped[bool] = mapped_column(Boolean, default=False)
    est_distance_km: Mapped[Decimal | None] = mapped_column(Numeric(8, 1))
    est_duration_min: Mapped[int | None] = mapped_column(Integer)
    selected_offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("offers.id", use_alter=True, name="fk_trips_selected_offer_id_offers"))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel, "channel"))
    estimate: Mapped[Decimal | None]
    # Why the trip cannot be dispatched right now (e.g. the provider refused the booking);
    # the dispatch queue shows it.
    dispatch_issue: Mapped[str | None] = mapped_column(Text)
    cancellation_fee: Mapped[Decimal | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    # Optimistic lock: two writers of one trip cannot both win (StaleDataError → 409).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    unit: Mapped[Unit] = relationship(lazy="joined")
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    events: Mapped[list["TripEvent"]] = relationship(
        order_by="TripEvent.id", back_populates="trip", cascade="all, delete-orphan")
    offers: Mapped[list["Offer"]] = relationship(
        back_populates="trip", foreign_keys="Offer.trip_id", cascade="all, delete-orphan")

    @property
    def emergency(self) -> bool:
        return self.purpose_category == Purpose.EMERGENCY

    @property
    def passenger_count(self) -> int:
        return len(self.passengers)

    def can_transition(self, to: TripState) -> bool:
        return to in TRANSITIONS.get(self.state, set())

    def transition(self, session, to: TripState, *, actor_id: int | None, comment: str = "",
                   on_behalf_of_id: int | None = None, at: datetime | None = None,
                   data: dict | None = None) -> "TripEvent":
        """Move to ``to`` or raise IllegalTransition; records history and the audit log."""
        if not self.can_transition(to):
            raise IllegalTransition(
                f"行程当前状态为“{STATE_LABELS[self.state]}”，不能变为“{STATE_LABELS[to]}”",
                errors={"state": self.state.value, "to": to.value})
        at = at or clock.now()
        event = TripEvent(from_state=self.state, to_state=to, at=at, actor_id=actor_id,
                          on_behalf_of_id=on_behalf_of_id, comment=comment, data=data or {})
        self.events.append(event)
        audit.record(session, entity="trips", entity_id=self.id, action=f"state:{to.value}",
                     actor_id=actor_id, on_behalf_of_id=on_behalf_of_id, at=at,
                     data={"from": self.state.value, "comment": comment, **(data or {})})
        self.state = to
        return event

    def note(self, session, action: str, *, actor_id: int | None, comment: str = "",
             on_behalf_of_id: int | None = None, at: datetime | None = None,
             data: dict | None = None) -> "TripEvent":
        """Record a non-state event in the trip's history (e.g. an approval step decided)."""
        at = at or clock.now()
        event = TripEvent(from_state=self.state, to_state=self.state, at=at, actor_id=actor_id,
                          on_behalf_of_id=on_behalf_of_id, comment=comment,
                          data={"action": action, **(data or {})})
        self.events.append(event)
        audit.record(session, entity="trips", entity_id=self.id, action=action,
                     actor_id=actor_id, on_behalf_of_id=on_behalf_of_id, at=at,
                     data={"comment": comment, **(data or {})})
        return event


STATE_LABELS = {
    S.DRAFT: "草稿", S.QUOTED: "已报价", S.PENDING_APPROVAL: "待审批", S.APPROVED: "已审批",
    S.DISPATCHED: "已派车", S.IN_PROGRESS: "行程中", S.COMPLETED: "已完成", S.CONFIRMED: "已确认",
    S.SETTLED: "已结算", S.REJECTED: "已驳回", S.WITHDRAWN: "已撤回", S.CANCELLED: "已取消",
    S.EXPIRED: "已过期",
}


class TripEvent(Base):
    """One line of a trip's history: a state change or a noted action, with its actor."""

    __tablename__ = "trip_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[TripState] = mapped_column(enum_column(TripState, "trip_state"))
    to_state: Mapped[TripState] = mapped_column(enum_column(TripState, "trip_state"))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    trip: Mapped[Trip] = relationship(back_populates="events")


class Offer(Base):
    """A normalised quote from one provider for one trip, with its price lock."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    provider: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(80))
    vehicle_class: Mapped[VehicleClass] = mapped_column(enum_column(VehicleClass, "vehicle_class"))
    seats: Mapped[int]
    nev: Mapped[bool] = mapped_column(Boolean, default=False)
    price: Mapped[Decimal]
    breakdown: Mapped[list] = mapped_column(JSON, default=list)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime]
    compliant: Mapped[bool] = mapped_column(Boolean, default=True)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    recommended: Mapped[bool] = mapped_column(Boolean, default=False)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    quote_round: Mapped[int] = mapped_column(Integer, default=1)
    # Provider-specific data, e.g. the ride-hailing estimate id needed to order.
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    trip: Mapped[Trip] = relationship(back_populates="offers", foreign_keys=[trip_id])
