"""Orders placed with rental and ride-hailing providers, and the webhook nonces seen."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import Base, enum_column
from app.states import StateMachine


class OrderState(enum.StrEnum):
    """Our side of an order, then the provider's normalised states
    (``providers.base.ORDER_STATES``)."""

    PENDING = "pending"  # to be placed, maybe after a backoff
    BOOKING = "booking"  # claimed by a worker, the call is in flight
    FAILED = "failed"  # refused, retries exhausted, or given up after a call
    CREATED = "created"
    ASSIGNED = "assigned"
    ARRIVED = "arrived"
    IN_TRIP = "in_trip"
    COMPLETED = "completed"
    PAID = "paid"
    CANCELLED = "cancelled"


O = OrderState
# How far along an order is; a callback moves it only forward (``cancelled`` is final).
ORDER_RANK = {O.PENDING: -2, O.BOOKING: -1, O.FAILED: -1, O.CREATED: 0, O.ASSIGNED: 1,
              O.ARRIVED: 2, O.IN_TRIP: 3, O.COMPLETED: 4, O.PAID: 5, O.CANCELLED: 9}
# Orders the provider has made and not ended.
LIVE = (O.CREATED, O.ASSIGNED, O.ARRIVED, O.IN_TRIP)
# Every legal move. A provider's answer or callback may skip states: it jumps to any state
# ranked higher (the booking answer or a callback can also reach a row we had given up on,
# ``failed``, or one waiting to retry after a lost answer, ``pending``). Our own moves:
# claim (pending → booking, and booking → booking when a vanished worker's lease ran out),
# retry (booking → pending), fail, and drop (pending → cancelled when never sent, → failed
# when sent). The one way back: a provider that versions its callbacks takes an assignment
# back (assigned/arrived → created, a newer version; ``callbacks.apply_callback``).
TRANSITIONS = {
    O.PENDING: {O.BOOKING, O.FAILED, *LIVE, O.COMPLETED, O.PAID, O.CANCELLED},
    O.BOOKING: {O.BOOKING, O.PENDING, O.FAILED, *LIVE, O.COMPLETED, O.PAID, O.CANCELLED},
    O.FAILED: {*LIVE, O.COMPLETED, O.PAID, O.CANCELLED},
    O.CREATED: {O.ASSIGNED, O.ARRIVED, O.IN_TRIP, O.COMPLETED, O.PAID, O.CANCELLED},
    O.ASSIGNED: {O.CREATED, O.ARRIVED, O.IN_TRIP, O.COMPLETED, O.PAID, O.CANCELLED},
    O.ARRIVED: {O.CREATED, O.IN_TRIP, O.COMPLETED, O.PAID, O.CANCELLED},
    O.IN_TRIP: {O.COMPLETED, O.PAID, O.CANCELLED},
    O.COMPLETED: {O.PAID, O.CANCELLED},
    O.PAID: {O.CANCELLED},
}
LABELS = {O.PENDING: "待下单", O.BOOKING: "下单中", O.FAILED: "下单失败", O.CREATED: "已下单",
          O.ASSIGNED: "已派司机", O.ARRIVED: "司机已到达", O.IN_TRIP: "行程中",
          O.COMPLETED: "已完成", O.PAID: "已支付", O.CANCELLED: "已取消"}


class ProviderOrder(StateMachine, Base):
    """One trip's order with its provider. ``out_order_id`` is fixed when the row is made,
    before any call, and reused by every retry, so the provider never creates two orders."""

    __tablename__ = "provider_orders"
    TRANSITIONS, STATE_LABELS, NOUN = TRANSITIONS, LABELS, "供应商订单"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"),
                                         unique=True)
    provider: Mapped[str] = mapped_column(String(40))
    out_order_id: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[str | None] = mapped_column(String(80), index=True)
    # The provider's earlier ids of this order, oldest first (it reassigned the order).
    order_id_history: Mapped[list | None] = mapped_column(JSON)
    state: Mapped[OrderState] = mapped_column(enum_column(OrderState, "order_state"),
                                              default=O.PENDING, index=True)
    plate: Mapped[str | None] = mapped_column(String(20), index=True)  # the trips' plate filter
    driver_name: Mapped[str | None] = mapped_column(String(40))
    driver_phone: Mapped[str | None] = mapped_column(String(20))
    bill: Mapped[list | None] = mapped_column(JSON)
    cancel_fee: Mapped[Decimal | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    # The highest ``version`` of the provider's callbacks applied, when it versions them
    # (partner platforms): an older one is stale whatever its state.
    last_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class WebhookNonce(Base):
    """A callback nonce already accepted, kept until its signature window has passed."""

    __tablename__ = "webhook_nonces"
    __table_args__ = (UniqueConstraint("provider", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The key the nonce store is given: the provider's app_key.
    provider: Mapped[str] = mapped_column(String(80))
    # The SHA-256 (hex) of the ride-hailing nonce or Standard Webhooks id.
    nonce: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(index=True)
