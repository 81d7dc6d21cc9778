"""Orders placed with rental and ride-hailing providers, and the webhook nonces seen."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import Base

# Our side of an order: ``pending`` (to be placed, maybe after a backoff), ``booking``
# (claimed by a worker, the call is in flight), ``failed`` (refused or retries exhausted),
# then the provider's normalised states (providers.base.ORDER_STATES).
PENDING, BOOKING, FAILED = "pending", "booking", "failed"
# How far along an order is; a callback moves it only forward (``cancelled`` is final).
ORDER_RANK = {PENDING: -2, BOOKING: -1, FAILED: -1, "created": 0, "assigned": 1,
              "arrived": 2, "in_trip": 3, "completed": 4, "paid": 5, "cancelled": 9}


class ProviderOrder(Base):
    """One trip's order with its provider. ``out_order_id`` is fixed when the row is made,
    before any call, and reused by every retry, so the provider never creates two orders."""

    __tablename__ = "provider_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"),
                                         unique=True)
    provider: Mapped[str] = mapped_column(String(40))
    out_order_id: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[str | None] = mapped_column(String(80), index=True)
    state: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    plate: Mapped[str | None] = mapped_column(String(20))
    driver_name: Mapped[str | None] = mapped_column(String(40))
    driver_phone: Mapped[str | None] = mapped_column(String(20))
    bill: Mapped[list | None] = mapped_column(JSON)
    cancel_fee: Mapped[Decimal | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
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
    nonce: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(index=True)
