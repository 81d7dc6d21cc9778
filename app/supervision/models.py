"""Supervision (常态化监管): rule versions, violations with their case history, published lists."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.accounts.models import Role, Unit, User
from app.db import Base, enum_column
from app.security import in_scope
from app.states import StateMachine


class ViolationRuleVersion(Base):
    """One admin-published version of one rule's parameters, severity and switch; the
    newest version of a code is in force (none: the registered defaults)."""

    __tablename__ = "violation_rule_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ViolationState(enum.StrEnum):
    OPEN = "open"
    EXPLAINED = "explained"
    CLOSED = "closed"


class Outcome(enum.StrEnum):
    UPHELD = "upheld"
    DISMISSED = "dismissed"


V = ViolationState
VIOLATION_TRANSITIONS = {V.OPEN: {V.EXPLAINED, V.CLOSED}, V.EXPLAINED: {V.CLOSED}}
VIOLATION_LABELS = {V.OPEN: "待说明", V.EXPLAINED: "已说明", V.CLOSED: "已办结"}
VIOLATION_ACTIONS = ("explain", "close")


class Violation(StateMachine, Base):
    """One rule firing on one subject: a case the unit explains and a supervisor closes."""

    TRANSITIONS, STATE_LABELS, NOUN = VIOLATION_TRANSITIONS, VIOLATION_LABELS, "违规线索"

    __tablename__ = "violations"
    __table_args__ = (UniqueConstraint("rule", "subject"),
                      Index("ix_violations_unit_state", "unit_id", "state"),
                      Index("ix_violations_occurred_at", "occurred_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))
    rule_version: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[ViolationState] = mapped_column(
        enum_column(ViolationState, "violation_state"), default=V.OPEN)
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, "violation_outcome"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    occurred_at: Mapped[datetime]
    detected_at: Mapped[datetime] = mapped_column(default=clock.now)
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    explanation: Mapped[str] = mapped_column(Text, default="")
    close_comment: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None]
    # Optimistic lock: two writers of one case cannot both win (409).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    unit: Mapped[Unit] = relationship(lazy="joined")
    events: Mapped[list["ViolationEvent"]] = relationship(
        order_by="ViolationEvent.id", cascade="all, delete-orphan", back_populates="violation")

    # --- who may do what now ----------------------------------------------------------
    def can_explain(self, user: User) -> bool:
        """The unit's approver or admin (own subtree) explains an open case."""
        return (self.state == V.OPEN and user.has_role(Role.APPROVER, Role.ADMIN)
                and in_scope(user, self.unit))

    def can_close(self, user: User) -> bool:
        """A supervisor closes a case, explained or not."""
        return self.state in (V.OPEN, V.EXPLAINED) and user.has_role(Role.SUPERVISOR)

    def allowed_actions(self, user: User) -> list[str]:
        return [name for name in VIOLATION_ACTIONS if getattr(self, f"can_{name}")(user)]

    def record_history(self, session, from_state, to_state, *, at, actor_id, on_behalf_of_id,
                       comment, data):
        event = ViolationEvent(from_state=from_state, to_state=to_state, at=at,
                               actor_id=actor_id, comment=comment, data=data)
        self.events.append(event)
        return event


class ViolationEvent(Base):
    """One line of a case's history: opened, explained, closed — who, when, what they said."""

    __tablename__ = "violation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id", ondelete="CASCADE"),
                                              index=True)
    from_state: Mapped[ViolationState | None] = mapped_column(
        enum_column(ViolationState, "violation_state"))
    to_state: Mapped[ViolationState] = mapped_column(enum_column(ViolationState, "violation_state"))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    violation: Mapped[Violation] = relationship(back_populates="events")


class PublishedList(Base):
    """A quarter's positive/negative list (正负面清单) as a supervisor published it."""

    __tablename__ = "published_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(6), unique=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    published_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=clock.now)
