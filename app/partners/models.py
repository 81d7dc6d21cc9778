"""Partner platforms (一体化, SPEC §7), the orders they place with us, and the signed status
callbacks we owe them (a durable outbox, sent by the worker)."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.accounts.models import Unit
from app.db import Base, enum_column
from app.states import StateMachine

# The provider name of a partner's fleet on our side: ``partner-<code>``.
PROVIDER_PREFIX = "partner-"


class Partner(Base):
    """A partner city's platform. ``code`` is the id it presents to us (``partner-id``
    header) and names its supply provider; ``our_id`` is the id it gave us. One key
    (``secret``) signs both ways; it is never answered back in full."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(40))
    # Service area "south, west, north, east" like CITY_BOUNDS: a trip whose destination
    # lies in it is offered the partner's fleet.
    south: Mapped[float] = mapped_column(Float)
    west: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    base_url: Mapped[str] = mapped_column(String(300))
    our_id: Mapped[str] = mapped_column(String(40))
    secret: Mapped[str] = mapped_column(String(200))
    # The local unit that stands for the partner: its inbound trips' unit and paying unit.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    # The (login-less) account inbound trips are filed under as applicant.
    service_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    unit: Mapped[Unit] = relationship(lazy="joined")

    @property
    def provider_name(self) -> str:
        return PROVIDER_PREFIX + self.code

    @property
    def secret_hint(self) -> str:
        """The key as admins see it: its last four characters only."""
        return "…" + self.secret[-4:] if len(self.secret) > 8 else "…"


class PartnerOrderState(enum.StrEnum):
    """An inbound order's state, in the partner API's vocabulary (``providers.base.ORDER_STATES``)."""

    CREATED = "created"
    ASSIGNED = "assigned"
    IN_TRIP = "in_trip"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


P = PartnerOrderState
TRANSITIONS = {
    P.CREATED: {P.ASSIGNED, P.CANCELLED},
    P.ASSIGNED: {P.CREATED, P.IN_TRIP, P.CANCELLED},  # unassigned: back to created
    P.IN_TRIP: {P.COMPLETED},
}
LABELS = {P.CREATED: "已受理", P.ASSIGNED: "已派车", P.IN_TRIP: "行程中", P.COMPLETED: "已完成",
          P.CANCELLED: "已取消"}


class PartnerOrder(StateMachine, Base):
    """An order a partner placed with us (inbound): the trip it became, the partner's own
    reference (idempotency key) and approval reference."""

    __tablename__ = "partner_orders"
    __table_args__ = (UniqueConstraint("partner_id", "order_ref"),)
    TRANSITIONS, STATE_LABELS, NOUN = TRANSITIONS, LABELS, "合作平台订单"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    order_ref: Mapped[str] = mapped_column(String(64))
    approval_ref: Mapped[str] = mapped_column(String(64))
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id"), unique=True)
    state: Mapped[PartnerOrderState] = mapped_column(
        enum_column(PartnerOrderState, "partner_order_state"), default=P.CREATED)
    quoted_price: Mapped[Decimal]
    contact: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    partner: Mapped[Partner] = relationship(lazy="joined")

    @property
    def public_id(self) -> str:
        return f"PO{self.id:06d}"


class CallbackState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class PartnerCallback(Base):
    """One status callback owed to a partner, written in the transaction of the change it
    reports and delivered by the worker (``partners.send_callbacks``) with backoff; every
    attempt of one message keeps its ``msg_id`` (the partner's replay key)."""

    __tablename__ = "partner_callbacks"
    __table_args__ = (Index("ix_partner_callbacks_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    partner_order_id: Mapped[int] = mapped_column(ForeignKey("partner_orders.id"), index=True)
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[CallbackState] = mapped_column(
        enum_column(CallbackState, "partner_callback_state"), default=CallbackState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
