"""Monthly statements (结算单) per paying unit and supplier, and their lines."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from app import clock
from app.accounts.models import Role, Unit, User
from app.audit import AuditEntry
from app.db import Base, enum_column
from app.security import in_scope, is_platform
from app.states import StateMachine


class SettlementState(enum.StrEnum):
    DRAFT = "draft"
    PENDING_CONFIRMATION = "pending_confirmation"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
    CLOSED = "closed"


S = SettlementState
# Only an issued statement is confirmed: a draft or a disputed one is issued (again) first.
TRANSITIONS = {
    S.DRAFT: {S.PENDING_CONFIRMATION, S.DISPUTED},
    S.PENDING_CONFIRMATION: {S.CONFIRMED, S.DISPUTED},
    S.DISPUTED: {S.PENDING_CONFIRMATION},
    S.CONFIRMED: {S.CLOSED, S.DISPUTED},
}
LABELS = {S.DRAFT: "草稿", S.PENDING_CONFIRMATION: "待确认", S.CONFIRMED: "已确认",
          S.DISPUTED: "有异议", S.CLOSED: "已关闭"}
# The moves people make, each with the state it leads to; export changes nothing.
ACTION_STATES = {"issue": S.PENDING_CONFIRMATION, "confirm": S.CONFIRMED,
                 "dispute": S.DISPUTED, "close": S.CLOSED}
ACTIONS = (*ACTION_STATES, "export")
# Issuing a draft and closing a period are platform finance's; confirming is the paying
# unit's own finance; disputing and exporting any finance in scope.
PLATFORM_ACTIONS = {"issue", "close"}


class Settlement(StateMachine, Base):
    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("period", "unit_id", "supplier"),)
    TRANSITIONS, STATE_LABELS, NOUN = TRANSITIONS, LABELS, "结算单"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # "2026-10"
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    supplier: Mapped[str] = mapped_column(String(40))
    state: Mapped[SettlementState] = mapped_column(
        enum_column(SettlementState, "settlement_state"), default=S.DRAFT)
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    line_count: Mapped[int] = mapped_column(default=0)
    generated_at: Mapped[datetime] = mapped_column(default=clock.now)
    closed_at: Mapped[datetime | None]
    dispute_reason: Mapped[str | None] = mapped_column(String(500))

    unit: Mapped[Unit] = relationship(lazy="joined")

    def permits(self, action: str, user: User) -> bool:
        """Whether ``user`` may ever do ``action`` on this statement, whatever its state:
        finance staff whose scope holds its unit; platform finance for issue and close;
        the paying unit's own finance for confirm (platform finance, whose scope holds every
        unit, confirms only the platform unit's statements); separation of duties: whoever
        issued it does not confirm it."""
        return (user.has_role(Role.FINANCE) and in_scope(user, self.unit)
                and (action not in PLATFORM_ACTIONS or is_platform(user))
                and not (action == "confirm" and not self.paid_by(user))
                and not (action == "confirm" and self.issued_by(user)))

    def paid_by(self, user: User) -> bool:
        """Whether ``user`` belongs to the paying unit itself (not a unit above it)."""
        return user.unit_id == self.unit_id

    def has_disputed_lines(self) -> bool:
        facts = self.__dict__.get("_page_facts")
        if facts is not None:
            return facts[0]
        return object_session(self).scalar(select(
            select(SettlementLine.id).where(SettlementLine.settlement_id == self.id,
                                            SettlementLine.disputed.is_(True)).exists())) is True

    def issued_by(self, user: User) -> bool:
        """Whether ``user`` issued the statement last (its history is the audit log)."""
        facts = self.__dict__.get("_page_facts")
        if facts is not None:
            return facts[1] == user.id
        issuer = object_session(self).scalar(
            select(AuditEntry.actor_id)
            .where(AuditEntry.entity == self.__tablename__, AuditEntry.entity_id == self.id,
                   AuditEntry.action == f"state:{S.PENDING_CONFIRMATION.value}")
            .order_by(AuditEntry.id.desc()).limit(1))
        return issuer == user.id

    def can_issue(self, user: User) -> bool:
        return self.can_transition(S.PENDING_CONFIRMATION) and self.permits("issue", user)

    def can_confirm(self, user: User) -> bool:
        return (self.can_transition(S.CONFIRMED) and self.permits("confirm", user)
                and not self.has_disputed_lines())

    def can_dispute(self, user: User) -> bool:
        return self.can_transition(S.DISPUTED) and self.permits("dispute", user)

    def can_close(self, user: User) -> bool:
        return self.can_transition(S.CLOSED) and self.permits("close", user)

    def can_export(self, user: User) -> bool:
        """Finance in scope, and supervisors (read-only, platform-wide)."""
        return self.permits("export", user) or user.has_role(Role.SUPERVISOR)

    def allowed_actions(self, user: User) -> list[str]:
        return [a for a in ACTIONS if getattr(self, f"can_{a}")(user)]

    @classmethod
    def prefetch_facts(cls, session, statements: list["Settlement"]) -> None:
        """For a page of statements about to be shown read-only: whether each has a
        disputed line and who issued it last, in two statements for the page (instead of
        two per statement when ``allowed_actions`` asks)."""
        ids = [s.id for s in statements]
        if not ids:
            return
        disputed = set(session.scalars(
            select(SettlementLine.settlement_id).distinct()
            .where(SettlementLine.settlement_id.in_(ids), SettlementLine.disputed.is_(True))))
        action = f"state:{S.PENDING_CONFIRMATION.value}"
        last = (select(AuditEntry.entity_id, func.max(AuditEntry.id).label("last_id"))
                .where(AuditEntry.entity == cls.__tablename__, AuditEntry.entity_id.in_(ids),
                       AuditEntry.action == action)
                .group_by(AuditEntry.entity_id).subquery())
        issuers = dict(session.execute(
            select(AuditEntry.entity_id, AuditEntry.actor_id)
            .join(last, AuditEntry.id == last.c.last_id)).all())
        for statement in statements:
            statement.__dict__["_page_facts"] = (statement.id in disputed,
                                                 issuers.get(statement.id))


class SettlementLine(Base):
    """One confirmed charge on a statement, or an adjustment for a closed period."""

    __tablename__ = "settlement_lines"
    __table_args__ = (Index("ix_settlement_lines_settlement_order", "settlement_id", "order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    # A charge appears on exactly one statement; adjustments carry no charge id.
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), unique=True)
    # An adjustment names the charge it corrects here (a charge may be corrected twice).
    source_charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"))
    order_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20), default="charge")  # charge | adjustment
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal]
    finished_at: Mapped[datetime]
    disputed: Mapped[bool] = mapped_column(default=False)
