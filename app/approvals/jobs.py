"""Time-driven approval work (SPEC §4): reminders, escalation, expiry, emergency flags.

Each job claims its rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the single writer
on SQLite) and marks them in the same transaction, so with several workers each reminder,
escalation or expiry happens once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from app import audit, db
from app.accounts.models import Unit
from app.approvals import messages, workflow
from app.approvals.models import ApprovalStep, ApprovalTask, Workflow, WorkflowState
from app.trips import events
from app.trips.models import Purpose, Trip, TripState

log = logging.getLogger(__name__)

REMIND_AFTER = timedelta(hours=2)
ESCALATE_AFTER = timedelta(hours=4)
BATCH = 100


def _claim(session, stmt, of):
    db.begin_write(session)
    return list(session.scalars(stmt.limit(BATCH).with_for_update(skip_locked=True, of=of)).unique())


def _claim_overdue(session, model, *, handled, since, cutoff: datetime):
    """Pending tasks/steps of open workflows, waiting since before ``cutoff``, not yet handled."""
    return _claim(session, select(model).join(Workflow).where(
        model.state == "pending", handled.is_(None), since <= cutoff,
        Workflow.state == WorkflowState.PENDING).order_by(model.id), model)


def remind(session, now: datetime) -> int:
    """Remind approvers of tasks pending for 2 h (催办), once per task."""
    tasks = _claim_overdue(session, ApprovalTask, handled=ApprovalTask.reminded_at,
                           since=ApprovalTask.created_at, cutoff=now - REMIND_AFTER)
    for task in tasks:
        task.reminded_at = now
        messages.notify_task(session, task, task.trip, kind="approval_reminder",
                             phrase="审批催办", now=now)
        audit.record(session, entity="approval_tasks", entity_id=task.id, action="reminded",
                     actor_id=None, at=now, data={"assignee_id": task.assignee_id})
    return len(tasks)


def escalate(session, now: datetime) -> int:
    """After 4 h, add the parent unit's approvers to a pending unit step and notify them."""
    steps = _claim_overdue(session, ApprovalStep, handled=ApprovalStep.escalated_at,
                           since=ApprovalStep.activated_at, cutoff=now - ESCALATE_AFTER)
    for step in steps:
        step.escalated_at = now
        trip = step.workflow.trip
        added = []
        source = session.get(Unit, step.source_unit_id) if step.source_unit_id else None
        # Platform steps already hold every platform approver: nobody above them to add.
        if step.approvers == "unit" and source is not None:
            have = {t.assignee_id for t in step.tasks} | {trip.applicant_id}
            _, users = workflow.unit_approvers(session, source.parent, exclude=have)
            added = [workflow.add_task(session, step, u, now, escalated=True) for u in users]
            session.flush()
            for task in added:
                messages.notify_task(session, task, trip, kind="approval_task", phrase="待审批",
                                     now=now)
        trip.note(session, "approval:escalated", actor_id=None, at=now,
                  comment="审批超过4小时未处理，已提交上级审批人" if added else "审批超过4小时未处理",
                  data={"step": step.seq, "added": [t.assignee_id for t in added]})
    return len(steps)


def expire(session, now: datetime) -> int:
    """Trips whose departure passed without final approval expire; tasks are cancelled.
    Not emergency trips (先用后补): dispatchable from submit on, they wait in the dispatch
    queue past their departure and their approval follows.

    Also closes workflows of trips another domain ended (e.g. cancelled) meanwhile.
    """
    flows = _claim(session, select(Workflow).join(Trip).where(
        Workflow.state == WorkflowState.PENDING,
        ((Trip.state == TripState.PENDING_APPROVAL) & (Trip.depart_at <= now)
         & (Trip.purpose_category != Purpose.EMERGENCY))
        | Trip.state.in_(workflow.CLOSED_TRIP_STATES)).order_by(Workflow.id), Workflow)
    for wf in flows:
        trip = wf.trip
        if trip.state == TripState.PENDING_APPROVAL:
            trip.transition(session, TripState.EXPIRED, actor_id=None, at=now,
                            comment="出发时间已过，审批未完成", data={"action": "approval:expired"})
            workflow.close_workflow(session, wf, WorkflowState.EXPIRED, now)
            events.publish(session, events.TRIP_EXPIRED, trip=trip, at=now)
        else:
            workflow.close_workflow(session, wf, WorkflowState.CANCELLED, now)
    return len(flows)


def flag_emergencies(session, now: datetime) -> int:
    """Emergency trips (先用后补) not finally approved 24 h after submit are flagged."""
    flows = _claim(session, select(Workflow).join(Trip).where(
        Workflow.state == WorkflowState.PENDING, Workflow.flagged_at.is_(None),
        Trip.purpose_category == Purpose.EMERGENCY,
        Workflow.submitted_at <= now - workflow.EMERGENCY_DEADLINE).order_by(Workflow.id), Workflow)
    for wf in flows:
        workflow.flag_emergency(session, wf, wf.trip, now)
    return len(flows)
