"""Quote rounds (询价): one per fan-out, with how each provider answered."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, Numeric, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import Base


class QuoteRound(Base):
    """One fan-out for a trip: its number (offers carry it), estimate and provider statuses.

    ``providers`` is ``[{name, channel, status, latency_ms, message?}]`` — what the traveller
    saw, kept for supervision. The unique (trip, round) stops two concurrent re-quotes from
    both claiming the same round.
    """

    __tablename__ = "quote_rounds"
    __table_args__ = (UniqueConstraint("trip_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    deadline_ms: Mapped[int] = mapped_column(Integer)
    est_distance_km: Mapped[Decimal] = mapped_column(Numeric(8, 1))
    est_duration_min: Mapped[int] = mapped_column(Integer)
    providers: Mapped[list] = mapped_column(JSON, default=list)
