"""Trips (用车申请), their audited state history, and the offers quoted for them."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, and_,
                        false, or_)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import audit, clock
from app.accounts.models import Role, Unit, User, VehicleClass
from app.db import Base, enum_column
from app.security import in_scope
from app.states import StateMachine


class TripState(enum.StrEnum):
    DRAFT = "draft"
    QUOTED = "quoted"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    # The locked price expired before booking and the provider's new one is beyond the
    # policy's tolerance: back with the traveler, who accepts it or cancels.
    PRICE_CHANGED = "price_changed"
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
    PARTNER = "partner"  # a partner city's fleet (SPEC §7)


S = TripState
# Every legal move. Emergency trips (先用后补) may be dispatched while approval is pending.
TRANSITIONS: dict[TripState, set[TripState]] = {
    S.DRAFT: {S.QUOTED, S.CANCELLED},
    S.QUOTED: {S.QUOTED, S.PENDING_APPROVAL, S.CANCELLED},
    S.PENDING_APPROVAL: {S.APPROVED, S.REJECTED, S.WITHDRAWN, S.EXPIRED, S.DISPATCHED,
                         S.CANCELLED},
    S.APPROVED: {S.DISPATCHED, S.CANCELLED, S.PENDING_APPROVAL,  # re-approval (new price)
                 S.PRICE_CHANGED},
    S.PRICE_CHANGED: {S.APPROVED, S.CANCELLED, S.EXPIRED},
    S.DISPATCHED: {S.IN_PROGRESS, S.APPROVED, S.PENDING_APPROVAL, S.REJECTED, S.CANCELLED,
                   S.COMPLETED},
    S.IN_PROGRESS: {S.COMPLETED},
    S.COMPLETED: {S.CONFIRMED},
    S.CONFIRMED: {S.SETTLED},
}


# Hard limit (SPEC §6.1): no start earlier than this before the approved departure.
EARLIEST_START = timedelta(hours=2)

# The trip actions of the HTTP API, in the order ``allowed_actions`` lists them.
TRIP_ACTIONS = ("quote", "submit", "withdraw", "cancel", "assign", "reassign", "unassign",
                "switch_to_fleet", "start", "finish", "confirm", "dispute", "resolve_dispute",
                "accept_price")


@dataclass(frozen=True)
class ActionContext:
    """What the trip's permissions need from the domains above trips: who drives it now
    (dispatch) and whether the passenger's objection is open. ``app.trips.lifecycle``
    gathers it from the providers those domains register."""

    assigned: bool = False
    driver_user_id: int | None = None
    dispute_open: bool = False


STATE_LABELS = {
    S.DRAFT: "草稿", S.QUOTED: "已报价", S.PENDING_APPROVAL: "待审批", S.APPROVED: "已审批",
    S.PRICE_CHANGED: "待确认新价",
    S.DISPATCHED: "已派车", S.IN_PROGRESS: "行程中", S.COMPLETED: "已完成", S.CONFIRMED: "已确认",
    S.SETTLED: "已结算", S.REJECTED: "已驳回", S.WITHDRAWN: "已撤回", S.CANCELLED: "已取消",
    S.EXPIRED: "已过期",
}


class Trip(StateMachine, Base):
    __tablename__ = "trips"
    # Lists read newest first by id (keyset pages): the applicant's and each unit's trips
    # in id order are index range scans; a departure range is one too.
    __table_args__ = (Index("ix_trips_state_depart", "state", "depart_at"),
                      Index("ix_trips_unit_id_id", "unit_id", "id"),
                      Index("ix_trips_applicant_id_id", "applicant_id", "id"),
                      Index("ix_trips_depart_at", "depart_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[TripState] = mapped_column(enum_column(TripState, "trip_state"), default=S.DRAFT)
    purpose_category: Mapped[Purpose] = mapped_column(enum_column(Purpose, "purpose"))
    purpose_text: Mapped[str] = mapped_column(String(200), default="")
    passengers: Mapped[list] = mapped_column(JSON, default=list)
    stops: Mapped[list] = mapped_column(JSON, default=list)
    depart_at: Mapped[datetime]
    return_at: Mapped[datetime]
    vehicle_class: Mapped[VehicleClass | None] = mapped_column(enum_column(VehicleClass, "vehicle_class"))
    cross_region: Mapped[bool] = mapped_column(Boolean, default=False)
    # A trip with a return time comes back to its origin unless the traveler says one way.
    one_way: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
    # A partner city's order (SPEC §7): {code, name, order_id, order_ref, approval_ref};
    # the dispatch queue shows it as a partner trip. None for our own travelers' trips.
    partner: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    # Optimistic lock: two writers of one trip cannot both win (StaleDataError → 409).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    TRANSITIONS = TRANSITIONS
    STATE_LABELS = STATE_LABELS
    NOUN = "行程"

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
    def number(self) -> str:
        """The trip number people quote (ASCII, fits a WeChat character_string)."""
        return f"YC{clock.local_date(self.created_at):%Y%m%d}{self.id:06d}"

    @property
    def passenger_count(self) -> int:
        return len(self.passengers)

    @property
    def route_points(self) -> list[tuple[float, float]]:
        """The (lat, lng) points the vehicle drives through: the stops in order and, unless
        the trip is one-way, back to the origin (every trip has a return time). A trip
        whose last stop already is its origin is not sent round twice."""
        points = [(float(s["lat"]), float(s["lng"])) for s in self.stops]
        if not self.one_way and len(points) > 1 and points[-1] != points[0]:
            points.append(points[0])
        return points

    # --- the lifecycle: which state allows what (one definition each) ---------------------
    # Services check these before acting; ``can_<action>(user, ctx)`` below adds who may
    # act, and ``allowed_actions`` lists the true ones for a caller.

    @hybrid_property
    def dispatchable(self) -> bool:
        """May dispatch start? Approved trips, and emergency trips (先用后补) from submit on."""
        return self.state == S.APPROVED or (self.state == S.PENDING_APPROVAL
                                            and self.purpose_category == Purpose.EMERGENCY)

    @dispatchable.inplace.expression
    @classmethod
    def _dispatchable_sql(cls):
        return or_(cls.state == S.APPROVED,
                   and_(cls.state == S.PENDING_APPROVAL, cls.purpose_category == Purpose.EMERGENCY))

    @property
    def quotable(self) -> bool:
        return self.state in (S.DRAFT, S.QUOTED)

    @property
    def submittable(self) -> bool:
        return self.state == S.QUOTED

    @property
    def withdrawable(self) -> bool:
        return self.can_transition(S.WITHDRAWN)

    @property
    def cancellable(self) -> bool:
        return self.can_transition(S.CANCELLED)

    @property
    def price_acceptable(self) -> bool:
        """Back with the traveler after a re-quote beyond tolerance (``price_changed``)."""
        return self.state == S.PRICE_CHANGED

    def price_change(self) -> dict | None:
        """What a ``price_changed`` trip waits on (the history's last move there): the
        approved estimate, the new price and offer, the provider and why."""
        if self.state != S.PRICE_CHANGED:
            return None
        event = next(e for e in reversed(self.events) if e.to_state == S.PRICE_CHANGED)
        return {key: event.data.get(key) for key in ("approved_estimate", "new_price",
                                                     "offer_id", "provider", "reason")}

    @property
    def with_fleet(self) -> bool:
        return self.channel == Channel.FLEET

    @property
    def reassignable(self) -> bool:
        """A fleet trip dispatched and not yet started: its assignment may still change."""
        return self.state == S.DISPATCHED and self.with_fleet

    @property
    def startable(self) -> bool:
        return self.state == S.DISPATCHED

    def start_window_open(self, at: datetime) -> bool:
        """A driver sets off at most ``EARLIEST_START`` before the approved departure (SPEC §6.1)."""
        return at >= self.depart_at - EARLIEST_START

    @property
    def finishable(self) -> bool:
        return self.state == S.IN_PROGRESS

    @property
    def confirmable(self) -> bool:
        """Completed trips await the passenger's sign-off (confirm, or dispute first)."""
        return self.state == S.COMPLETED

    def undispatched_state(self) -> TripState:
        """Where a trip taken back from dispatch goes: approved; or, for an emergency trip
        dispatched before its approval, pending — unless the approval ended while it was on
        the road (approvals note that decision as ``final``): then the decision's state."""
        decided = None
        for event in reversed(self.events):
            if event.to_state == S.DISPATCHED and event.from_state != S.DISPATCHED:
                if event.from_state != S.PENDING_APPROVAL:
                    return S.APPROVED
                return TripState(decided) if decided else S.PENDING_APPROVAL
            final = (event.data or {}).get("final")
            if decided is None and final in (S.APPROVED.value, S.REJECTED.value):
                decided = final
        return S.APPROVED

    # --- who may do what now --------------------------------------------------------------

    def is_applicant(self, user: User) -> bool:
        return self.applicant_id == user.id

    def _oversees(self, user: User, role: Role) -> bool:
        return user.has_role(role) and in_scope(user, self.unit)

    def can_quote(self, user: User, ctx: "ActionContext") -> bool:
        return self.quotable and self.is_applicant(user) and user.has_role(Role.TRAVELER)

    def can_submit(self, user: User, ctx: "ActionContext") -> bool:
        return self.submittable and self.is_applicant(user) and user.has_role(Role.TRAVELER)

    def can_withdraw(self, user: User, ctx: "ActionContext") -> bool:
        return self.withdrawable and self.is_applicant(user) and user.has_role(Role.TRAVELER)

    def can_cancel(self, user: User, ctx: "ActionContext") -> bool:
        return self.cancellable and (self.is_applicant(user)
                                     or self._oversees(user, Role.DISPATCHER))

    def can_assign(self, user: User, ctx: "ActionContext") -> bool:
        return self.dispatchable and self.with_fleet and self._oversees(user, Role.DISPATCHER)

    def can_reassign(self, user: User, ctx: "ActionContext") -> bool:
        return self.reassignable and ctx.assigned and self._oversees(user, Role.DISPATCHER)

    can_unassign = can_reassign

    def can_switch_to_fleet(self, user: User, ctx: "ActionContext") -> bool:
        """A provider trip whose booking failed may be handed to the pooled fleet."""
        return (self.dispatchable and not self.with_fleet and self.dispatch_issue is not None
                and self._oversees(user, Role.DISPATCHER))

    def can_start(self, user: User, ctx: "ActionContext") -> bool:
        return (self.startable and self.start_window_open(clock.now()) and ctx.assigned
                and ctx.driver_user_id == user.id)

    def can_finish(self, user: User, ctx: "ActionContext") -> bool:
        return self.finishable and ctx.assigned and ctx.driver_user_id == user.id

    def can_confirm(self, user: User, ctx: "ActionContext") -> bool:
        return self.confirmable and self.is_applicant(user)

    def can_dispute(self, user: User, ctx: "ActionContext") -> bool:
        return self.confirmable and not ctx.dispute_open and self.is_applicant(user)

    def can_resolve_dispute(self, user: User, ctx: "ActionContext") -> bool:
        return self.confirmable and ctx.dispute_open and self._oversees(user, Role.DISPATCHER)

    def can_accept_price(self, user: User, ctx: "ActionContext") -> bool:
        return self.price_acceptable and self.is_applicant(user) and user.has_role(Role.TRAVELER)

    def allowed_actions(self, user: User, ctx: "ActionContext") -> list[str]:
        """The actions ``user`` may take on the trip now, in the API's fixed order."""
        return [name for name in TRIP_ACTIONS if getattr(self, f"can_{name}")(user, ctx)]

    # --- moving ---------------------------------------------------------------------------

    def record_history(self, session, from_state: TripState, to_state: TripState, *,
                       at: datetime, actor_id: int | None, on_behalf_of_id: int | None,
                       comment: str, data: dict) -> "TripEvent":
        """The trip keeps its own history (``TripEvent``), shown with every trip read."""
        event = TripEvent(from_state=from_state, to_state=to_state, at=at, actor_id=actor_id,
                          on_behalf_of_id=on_behalf_of_id, comment=comment, data=data)
        self.events.append(event)
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
