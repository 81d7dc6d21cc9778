"""Approval workflow (审批流程): policy versions, workflows, steps, tasks, delegations, calendar."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, select)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from app import clock
from app.accounts.models import User
from app.db import Base, enum_column
from app.states import StateMachine
from app.trips.models import Trip


class StepMode(enum.StrEnum):
    ANY = "any"  # 或签: one approval suffices
    ALL = "all"  # 会签: every member approves


class WorkflowState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # the trip was ended elsewhere (e.g. cancelled)


class StepState(enum.StrEnum):
    WAITING = "waiting"  # an earlier step is still open
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class TaskState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


W, St, T = WorkflowState, StepState, TaskState
# Every legal move; the history of each is its audit entry (approval_workflows, _steps, _tasks).
# An approved workflow reopens when its trip's new price needs a step it did not hold.
WORKFLOW_TRANSITIONS = {W.PENDING: {W.APPROVED, W.REJECTED, W.WITHDRAWN, W.EXPIRED, W.CANCELLED},
                        W.APPROVED: {W.PENDING}}
STEP_TRANSITIONS = {St.WAITING: {St.PENDING, St.CANCELLED},
                    St.PENDING: {St.APPROVED, St.REJECTED, St.CANCELLED}}
TASK_TRANSITIONS = {T.PENDING: {T.APPROVED, T.REJECTED, T.CANCELLED}}
WORKFLOW_LABELS = {W.PENDING: "审批中", W.APPROVED: "已通过", W.REJECTED: "已驳回",
                   W.WITHDRAWN: "已撤回", W.EXPIRED: "已过期", W.CANCELLED: "已取消"}
STEP_LABELS = {St.WAITING: "未开始", St.PENDING: "待审批", St.APPROVED: "已通过",
               St.REJECTED: "已驳回", St.CANCELLED: "已取消"}
TASK_LABELS = {T.PENDING: "待审批", T.APPROVED: "已同意", T.REJECTED: "已驳回",
               T.CANCELLED: "已取消"}
# What a caller may do with a task (``allowed_actions``), each with its ``can_<action>``.
TASK_ACTIONS = ("approve", "reject")


class DayKind(enum.StrEnum):
    HOLIDAY = "holiday"
    WORKDAY = "workday"  # an adjusted working day (调休) on a weekend


class ApprovalPolicy(Base):
    """One admin-published version of the approval rules; in force from ``effective_from``."""

    __tablename__ = "approval_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    effective_from: Mapped[datetime]
    rules: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Workflow(StateMachine, Base):
    """The approval of one submitted trip, routed by the policy version in force at submit."""

    TRANSITIONS, STATE_LABELS, NOUN = WORKFLOW_TRANSITIONS, WORKFLOW_LABELS, "审批流程"

    __tablename__ = "approval_workflows"

    id: Mapped[int] = mapped_column(primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), unique=True)
    state: Mapped[WorkflowState] = mapped_column(
        enum_column(WorkflowState, "workflow_state"), default=WorkflowState.PENDING, index=True)
    # 0 is the built-in default policy; the rules used are kept as a snapshot.
    policy_version: Mapped[int] = mapped_column(Integer)
    policy_rules: Mapped[dict] = mapped_column(JSON)
    calendar_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    # Emergency trips (先用后补) not approved within 24 h are flagged for supervision.
    flagged_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    trip: Mapped[Trip] = relationship()
    steps: Mapped[list["ApprovalStep"]] = relationship(
        order_by="ApprovalStep.seq", back_populates="workflow", cascade="all, delete-orphan")

    def current_step(self) -> "ApprovalStep | None":
        return next((s for s in self.steps if s.state == StepState.PENDING), None)


class ApprovalStep(StateMachine, Base):
    TRANSITIONS, STATE_LABELS, NOUN = STEP_TRANSITIONS, STEP_LABELS, "审批环节"
    __tablename__ = "approval_steps"
    __table_args__ = (UniqueConstraint("workflow_id", "seq"),
                      Index("ix_approval_steps_state_activated", "state", "activated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("approval_workflows.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    approvers: Mapped[str] = mapped_column(String(40))  # "unit" | "platform"
    mode: Mapped[StepMode] = mapped_column(enum_column(StepMode, "step_mode"))
    state: Mapped[StepState] = mapped_column(enum_column(StepState, "step_state"),
                                             default=StepState.WAITING)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    # The unit whose approvers were assigned; escalation goes to its parent.
    source_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    activated_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    workflow: Mapped[Workflow] = relationship(back_populates="steps")
    tasks: Mapped[list["ApprovalTask"]] = relationship(
        order_by="ApprovalTask.id", back_populates="step", cascade="all, delete-orphan")


class ApprovalTask(StateMachine, Base):
    """One approver's to-do on one step; the delegate who acted is ``decided_by``."""

    TRANSITIONS, STATE_LABELS, NOUN = TASK_TRANSITIONS, TASK_LABELS, "审批任务"

    __tablename__ = "approval_tasks"
    __table_args__ = (UniqueConstraint("step_id", "assignee_id"),
                      Index("ix_approval_tasks_assignee_state", "assignee_id", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("approval_steps.id", ondelete="CASCADE"),
                                         index=True)
    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("approval_workflows.id", ondelete="CASCADE"), index=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[TaskState] = mapped_column(enum_column(TaskState, "task_state"),
                                             default=TaskState.PENDING)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    reminded_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")

    step: Mapped[ApprovalStep] = relationship(back_populates="tasks")
    trip: Mapped[Trip] = relationship()
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id])

    def acting_for(self, user: User, at: datetime) -> int | None | bool:
        """None when ``user`` is the assignee, the assignee's id when ``user`` is their
        active delegate at ``at``, False when they may not act on the task."""
        if self.assignee_id == user.id:
            return None
        delegated = object_session(self).scalar(select(Delegation.id).where(
            Delegation.delegator_id == self.assignee_id, Delegation.delegate_id == user.id,
            *Delegation.active_at(at)).limit(1))
        return self.assignee_id if delegated is not None else False

    def _may_decide(self, user: User, at: datetime | None) -> bool:
        """The assignee or their active delegate, never the trip's own applicant."""
        return (self.trip.applicant_id != user.id
                and self.acting_for(user, at or clock.now()) is not False)

    def can_approve(self, user: User, at: datetime | None = None) -> bool:
        return self.can_transition(TaskState.APPROVED) and self._may_decide(user, at)

    def can_reject(self, user: User, at: datetime | None = None) -> bool:
        return self.can_transition(TaskState.REJECTED) and self._may_decide(user, at)

    def allowed_actions(self, user: User, at: datetime | None = None) -> list[str]:
        return [a for a in TASK_ACTIONS if getattr(self, f"can_{a}")(user, at)]


class Delegation(Base):
    """An approver's stand-in (代理审批) for a time range: "B for A"."""

    __tablename__ = "approval_delegations"
    __table_args__ = (Index("ix_approval_delegations_delegate", "delegate_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delegator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    delegator: Mapped[User] = relationship(foreign_keys=[delegator_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])

    @classmethod
    def active_at(cls, at: datetime) -> tuple:
        """Where-clauses: the delegation is in force at ``at``."""
        return cls.starts_at <= at, cls.ends_at > at, cls.revoked_at.is_(None)


class CalendarDay(Base):
    """Admin-maintained official calendar entry that extends and overrides the package."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[DayKind] = mapped_column(enum_column(DayKind, "day_kind"))
    note: Mapped[str] = mapped_column(String(100), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
