"""The approval workflow: submit, route and staff the steps, decide, withdraw, close.

Concurrency: every use case that changes a workflow first locks its row (``FOR UPDATE`` on
PostgreSQL; on SQLite the request already holds the single write lock) and only then loads
steps and tasks, so two approvers racing on one step are serialised and the second one
sees the first one's decision.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from app import audit, clock
from app.accounts.models import Role, Unit, User, UserRole
from app.approvals.admin import policy_in_force
from app.approvals.calendar import load_calendar
from app.approvals.messages import notify_task
from app.approvals.models import (ApprovalStep, ApprovalTask, Delegation, StepMode, StepState,
                                  TaskState, Workflow, WorkflowState)
from app.approvals.policy import ApprovalFacts, Routing, route
from app.errors import AppError, Conflict, Forbidden, IllegalTransition, NotFound, ValidationFailed
from app.trips import events
from app.trips.models import Offer, Trip, TripState
from app.trips.service import can_view

# Trip states in which nothing is left to approve.
CLOSED_TRIP_STATES = {TripState.CANCELLED, TripState.EXPIRED, TripState.WITHDRAWN,
                      TripState.REJECTED}
EMERGENCY_DEADLINE = timedelta(hours=24)


class OfferRefused(AppError):
    status, code, message = 422, "offer_not_found", "所选报价不存在"


# --- approvers -----------------------------------------------------------------------------

def _holders(session, role: Role, *, unit_id: int | None = None) -> list[User]:
    stmt = (select(User).join(UserRole).where(UserRole.role == role, User.active)
            .order_by(User.id))
    if unit_id is not None:
        stmt = stmt.where(User.unit_id == unit_id)
    return list(session.scalars(stmt).unique())


def unit_approvers(session, unit: Unit | None, *, exclude: set[int]) -> tuple[Unit | None, list[User]]:
    """The first unit from ``unit`` upwards with approvers outside ``exclude``, and them."""
    while unit is not None:
        users = [u for u in _holders(session, Role.APPROVER, unit_id=unit.id) if u.id not in exclude]
        if users:
            return unit, users
        unit = unit.parent
    return None, []


def _assignees_for(session, step_approvers: str, trip: Trip) -> tuple[Unit | None, list[User]]:
    exclude = {trip.applicant_id}
    if step_approvers == "unit":
        return unit_approvers(session, trip.unit, exclude=exclude)
    # The platform step goes to platform users only: the root unit's platform approvers.
    return None, [u for u in _holders(session, Role.PLATFORM_APPROVER)
                  if u.unit.parent_id is None and u.id not in exclude]


# --- submit and the workflow ---------------------------------------------------------------

def trip_facts(trip: Trip) -> ApprovalFacts:
    return ApprovalFacts(cross_region=trip.cross_region, estimate=trip.estimate,
                     vehicle_class=str(trip.vehicle_class) if trip.vehicle_class else None,
                     depart_date=clock.local_date(trip.depart_at))


def _check_offer(session, trip: Trip, offer_id: int, now: datetime) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.trip_id != trip.id:
        raise OfferRefused(errors={"offer_id": ["报价不属于该行程"]})
    if offer.expires_at <= now:
        raise OfferRefused("报价已过期，请重新询价", code="offer_expired",
                           errors={"offer_id": ["报价已过期"]})
    if not offer.compliant:
        raise OfferRefused("所选报价不符合用车标准，请选择其他报价", code="offer_not_compliant",
                           errors={"offer_id": ["不合规"], "reasons": list(offer.reasons)})
    if not offer.available:
        raise OfferRefused("所选车辆已无法提供，请重新询价", code="offer_unavailable",
                           errors={"offer_id": ["不可用"]})
    return offer


def submit_trip(session, *, actor: User, trip: Trip, offer_id: int,
                now: datetime | None = None) -> Workflow:
    """Submit a quoted trip with the chosen offer and start its approval workflow."""
    now = now or clock.now()
    lock_row(session, Trip, trip.id)
    if not trip.submittable:
        raise IllegalTransition("只有已报价的行程可以提交审批",
                                errors={"state": trip.state.value, "to": "pending_approval"})
    offer = _check_offer(session, trip, offer_id, now)
    trip.selected_offer_id, trip.channel = offer.id, offer.channel
    trip.estimate, trip.vehicle_class = offer.price, offer.vehicle_class

    version, rules = policy_in_force(session, now)
    facts = trip_facts(trip)
    routing = route(rules, facts, load_calendar(session, [facts.depart_date]))
    plans = _staff(session, routing, trip)
    wf = Workflow(trip_id=trip.id, policy_version=version, policy_rules=rules,
                  calendar_unknown=routing.calendar_unknown, submitted_at=now,
                  state=WorkflowState.PENDING)
    for seq, (plan, unit) in enumerate(plans, start=1):
        wf.steps.append(ApprovalStep(seq=seq, key=plan.key, name=plan.name,
                                     approvers=plan.approvers, mode=plan.mode,
                                     reasons=list(plan.reasons),
                                     source_unit_id=unit.id if unit else None))
    session.add(wf)
    trip.transition(session, TripState.PENDING_APPROVAL, actor_id=actor.id, at=now,
                    data={"offer_id": offer.id, "estimate": str(offer.price),
                          "policy_version": version, "steps": [p.key for p, _ in plans],
                          "calendar_unknown": routing.calendar_unknown,
                          "dispatchable": trip.emergency})
    session.flush()
    _activate(session, wf.steps[0], trip, now)
    events.publish(session, events.TRIP_SUBMITTED, trip=trip, at=now)
    return wf


def reapprove_for_new_price(session, *, actor: User, trip: Trip,
                            now: datetime | None = None,
                            comment: str = "改派公车后预估费用变化，需补充审批") -> list[str]:
    """The trip's estimate changed after submit (a provider trip moved to the fleet, the
    traveler accepted a provider's new price): route
    it again under the rules its workflow was submitted with. Steps now required that the
    workflow does not hold (e.g. the platform step above an amount) are appended to it, so
    the approvals already given stand and only the new steps are asked. An approved
    workflow reopens and the trip waits for them (out of the dispatch queue, except an
    emergency trip, dispatchable throughout); a pending one takes them after its current
    steps. Returns the keys of the added steps (none: nothing changes)."""
    now = now or clock.now()
    wf = workflow_of(session, trip.id)
    if wf is None:
        return []
    wf = lock_workflow(session, wf.id)
    facts = trip_facts(trip)
    routing = route(wf.policy_rules, facts, load_calendar(session, [facts.depart_date]))
    held = {step.key for step in wf.steps}
    missing = Routing(steps=[p for p in routing.steps if p.key not in held],
                      calendar_unknown=routing.calendar_unknown)
    if not missing.steps:
        return []
    last = max(step.seq for step in wf.steps)
    added = [ApprovalStep(seq=last + i, key=plan.key, name=plan.name, approvers=plan.approvers,
                          mode=plan.mode, reasons=list(plan.reasons),
                          source_unit_id=unit.id if unit else None)
             for i, (plan, unit) in enumerate(_staff(session, missing, trip), start=1)]
    wf.steps.extend(added)
    keys = [step.key for step in added]
    detail = {"action": "approval:reopened", "steps": keys, "estimate": str(trip.estimate)}
    if wf.state == WorkflowState.PENDING:
        trip.note(session, "approval:steps_added", actor_id=actor.id, at=now, comment=comment,
                  data=detail)
        return keys
    wf.transition(session, WorkflowState.PENDING, actor_id=actor.id, at=now, comment=comment)
    wf.decided_at = None
    trip.transition(session, TripState.PENDING_APPROVAL, actor_id=actor.id, at=now,
                    comment=comment, data=detail)
    session.flush()
    _activate(session, added[0], trip, now)
    return keys


def _staff(session, routing: Routing, trip: Trip):
    """Each planned step with its source unit; refuses when a step would have nobody."""
    staffed = []
    for plan in routing.steps:
        unit, users = _assignees_for(session, plan.approvers, trip)
        if not users:
            raise ValidationFailed(f"“{plan.name}”没有可用的审批人，请联系管理员",
                                   code="no_approver", errors={"step": [plan.key]})
        staffed.append((plan, unit))
    return staffed


def _activate(session, step: ApprovalStep, trip: Trip, now: datetime) -> None:
    """Open a step: one task per approver, each announced through the outbox."""
    unit, users = _assignees_for(session, step.approvers, trip)
    step.transition(session, StepState.PENDING, actor_id=None, at=now)
    step.activated_at = now
    if unit is not None:
        step.source_unit_id = unit.id
    tasks = [add_task(session, step, user, now) for user in users]
    session.flush()
    for task in tasks:
        notify_task(session, task, trip, kind="approval_task", phrase="待审批", now=now)


def add_task(session, step: ApprovalStep, user: User, now: datetime,
              escalated: bool = False) -> ApprovalTask:
    task = ApprovalTask(workflow_id=step.workflow_id, trip_id=step.workflow.trip_id,
                        assignee=user, state=TaskState.PENDING, created_at=now,
                        escalated=escalated)
    step.tasks.append(task)
    return task


def lock_row(session, model, pk: int):
    """Row-lock ``model`` ``pk`` (no eager joins: PostgreSQL refuses FOR UPDATE on an outer
    join) and return it re-read."""
    session.execute(select(model.id).where(model.id == pk).with_for_update())
    return session.get(model, pk, populate_existing=True)


def lock_workflow(session, workflow_id: int) -> Workflow:
    """The workflow, row-locked and re-read, before anything of it is loaded."""
    return lock_row(session, Workflow, workflow_id)


def workflow_of(session, trip_id: int) -> Workflow | None:
    return session.scalars(select(Workflow).where(Workflow.trip_id == trip_id)).first()


def close_workflow(session, wf: Workflow, state: WorkflowState, now: datetime, *,
                   actor_id: int | None = None) -> None:
    """End the workflow: every open task and step is cancelled."""
    wf.transition(session, state, actor_id=actor_id, at=now)
    wf.decided_at = now
    for step in wf.steps:
        if step.can_transition(StepState.CANCELLED):
            step.transition(session, StepState.CANCELLED, actor_id=actor_id, at=now)
        for task in step.tasks:
            if task.can_transition(TaskState.CANCELLED):
                task.transition(session, TaskState.CANCELLED, actor_id=actor_id, at=now)


def withdraw_trip(session, *, actor: User, trip: Trip, reason: str,
                  now: datetime | None = None) -> Trip:
    """The applicant takes back a trip that is not finally approved yet."""
    now = now or clock.now()
    wf = workflow_of(session, trip.id)
    if wf is not None:
        wf = lock_workflow(session, wf.id)
    session.refresh(trip)
    trip.transition(session, TripState.WITHDRAWN, actor_id=actor.id, comment=reason, at=now)
    if wf is not None and wf.state == WorkflowState.PENDING:
        close_workflow(session, wf, WorkflowState.WITHDRAWN, now, actor_id=actor.id)
    events.publish(session, events.TRIP_WITHDRAWN, trip=trip, at=now)
    return trip


def close_for_trip(session, trip: Trip, *, state: WorkflowState = WorkflowState.CANCELLED,
                   now: datetime | None = None) -> None:
    """For other domains ending a trip (e.g. cancel): cancel its open approval tasks."""
    wf = workflow_of(session, trip.id)
    if wf is not None:
        wf = lock_workflow(session, wf.id)
        if wf.state == WorkflowState.PENDING:
            close_workflow(session, wf, state, now or clock.now())


# --- deciding ------------------------------------------------------------------------------

def get_task(session, user: User, task_id: int, now: datetime | None = None) -> ApprovalTask:
    """A task its assignee, their delegate, its decider or a trip overseer may read (else 404)."""
    task = session.get(ApprovalTask, task_id)
    if task is None or not (task.decided_by_id == user.id or can_view(user, task.trip)
                            or task.acting_for(user, now or clock.now()) is not False):
        raise NotFound("审批任务不存在")
    return task


def decide(session, *, actor: User, task_id: int, approve: bool, comment: str = "",
           now: datetime | None = None) -> ApprovalTask:
    """Approve or reject one task; idempotent for the same decision, 409 for the opposite."""
    now = now or clock.now()
    wf_id = session.scalar(select(ApprovalTask.workflow_id).where(ApprovalTask.id == task_id))
    if wf_id is None:
        raise NotFound("审批任务不存在")
    wf = lock_workflow(session, wf_id)
    task = session.get(ApprovalTask, task_id, populate_existing=True)
    trip = task.trip
    on_behalf = task.acting_for(actor, now)
    if trip.applicant_id == actor.id:
        raise Forbidden("不能审批本人提交的用车申请", code="self_approval")
    if on_behalf is False:
        if task.decided_by_id == actor.id or can_view(actor, trip):
            raise Forbidden("您不是该审批环节的审批人", code="not_assignee")
        raise NotFound("审批任务不存在")
    wanted = TaskState.APPROVED if approve else TaskState.REJECTED
    if task.state == wanted:
        return task
    if not task.can_transition(wanted):
        if task.state == TaskState.CANCELLED:
            raise Conflict("该审批已由他人处理或流程已结束", code="task_closed")
        raise Conflict("该任务已作出相反的审批决定", code="already_decided")
    if wf.state != WorkflowState.PENDING or trip.state in CLOSED_TRIP_STATES:
        raise Conflict("该审批流程已结束", code="task_closed")

    step = task.step
    history = dict(actor_id=actor.id, on_behalf_of_id=on_behalf, comment=comment, at=now)
    detail = {"task_id": task.id, "step": step.seq, "step_name": step.name}
    task.transition(session, wanted, data={"trip_id": trip.id, "step": step.seq}, **history)
    task.decided_at, task.comment = now, comment
    task.decided_by_id, task.on_behalf_of_id = actor.id, on_behalf
    if not approve:
        step.transition(session, StepState.REJECTED, **history)
        step.decided_at = now
        close_workflow(session, wf, WorkflowState.REJECTED, now, actor_id=actor.id)
        _record_end(session, trip, TripState.REJECTED, "approval:rejected", history, detail)
        return task
    if not _step_complete(step, task):
        trip.note(session, "approval:approved", data=detail, **history)
        return task
    step.transition(session, StepState.APPROVED, **history)
    step.decided_at = now
    for other in step.tasks:
        if other.can_transition(TaskState.CANCELLED):
            other.transition(session, TaskState.CANCELLED, actor_id=actor.id, at=now)
    following = next((s for s in wf.steps if s.state == StepState.WAITING), None)
    if following is not None:
        trip.note(session, "approval:approved", data={**detail, "step_done": True}, **history)
        _activate(session, following, trip, now)
        return task
    wf.transition(session, WorkflowState.APPROVED, **history)
    wf.decided_at = now
    if trip.emergency and wf.flagged_at is None and now - wf.submitted_at > EMERGENCY_DEADLINE:
        flag_emergency(session, wf, trip, now)
    _record_end(session, trip, TripState.APPROVED, "approval:approved", history, detail)
    return task


def _step_complete(step: ApprovalStep, task: ApprovalTask) -> bool:
    """或签: one approval. 会签: every original member; an escalated superior decides alone."""
    if step.mode == StepMode.ANY or task.escalated:
        return True
    return all(t.state == TaskState.APPROVED for t in step.tasks if not t.escalated)


def _record_end(session, trip: Trip, to: TripState, action: str, history: dict,
                detail: dict) -> None:
    # An emergency trip may already be on the road: its state stays, the decision is noted.
    if trip.state == TripState.PENDING_APPROVAL:
        trip.transition(session, to, data={"action": action, **detail}, **history)
    else:
        trip.note(session, action, data={**detail, "final": to.value}, **history)
    events.publish(session, events.TRIP_APPROVED if to == TripState.APPROVED
                   else events.TRIP_REJECTED, trip=trip, at=history["at"])


def flag_emergency(session, wf: Workflow, trip: Trip, now: datetime) -> None:
    """Mark an emergency trip whose approval took over 24 h (for supervision)."""
    wf.flagged_at = now
    audit.record(session, entity="approval_workflows", entity_id=wf.id,
                 action="emergency_overdue", actor_id=None, at=now,
                 data={"trip_id": trip.id, "submitted_at": wf.submitted_at.isoformat()})
    trip.note(session, "approval:emergency_overdue", actor_id=None, at=now,
              comment="应急用车提交后24小时内未完成审批", data={"workflow_id": wf.id})


def inbox_filter(user: User, now: datetime):
    """Tasks of ``user``: assigned, decided by them, or delegated to them right now."""
    delegators = select(Delegation.delegator_id).where(Delegation.delegate_id == user.id,
                                                       *Delegation.active_at(now))
    return and_(or_(ApprovalTask.assignee_id == user.id, ApprovalTask.decided_by_id == user.id,
                    and_(ApprovalTask.assignee_id.in_(delegators),
                         ApprovalTask.state == TaskState.PENDING)),
                Trip.applicant_id != user.id)


def close_on_cancel(session, *, trip: Trip, at: datetime, **_) -> None:
    """``trip_cancelled``: the trip's open approval tasks are cancelled with it."""
    close_for_trip(session, trip, now=at)
