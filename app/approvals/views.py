"""Submit/withdraw, the approver's inbox and decisions, delegations, policy and calendar admin."""
from __future__ import annotations

from datetime import date

from flask.views import MethodView
from sqlalchemy import extract, select
from sqlalchemy.orm import selectinload

from app import clock, db
from app.accounts.models import Role
from app.api import PageArgs, blueprint, page_schema, paginate
from app.approvals import admin, delegation, workflow
from app.approvals.calendar import load_calendar
from app.approvals.models import ApprovalPolicy, ApprovalTask, CalendarDay, Delegation
from app.approvals.schemas import (ApproveSchema, CalendarArgs, CalendarDaySchema,
                                   CurrentPolicySchema, DayVerdictSchema, DelegationSchema,
                                   InboxArgs, PolicyRulesSchema, PolicySchema, RejectSchema,
                                   SubmitSchema, SubmittedTripSchema, TaskSchema,
                                   WithdrawSchema, WorkflowSchema)
from app.errors import NotFound
from app.security import current_user, platform_admin, roles_required
from app.trips import service as trips
from app.trips.models import Trip

trip_blp = blueprint("trip-approval", "/trips", "Submitting trips for approval and withdrawing them")
blp = blueprint("approvals", "/approvals", "Approval tasks: inbox, approve, reject")
delegation_blp = blueprint("delegations", "/delegations", "Approvers' delegates (代理审批)")
admin_blp = blueprint("approval-admin", "/admin", "Approval policies and the official calendar")


# --- trips ---------------------------------------------------------------------------------

@trip_blp.route("/<int:trip_id>/submit", methods=["POST"])
@roles_required(Role.TRAVELER)
@trip_blp.arguments(SubmitSchema)
@trip_blp.response(200, SubmittedTripSchema)
def submit(data, trip_id):
    """Submit a quoted trip with the chosen offer; the approval workflow starts."""
    user = current_user()
    trip = trips.get_own(db.session, user, trip_id)
    workflow.submit_trip(db.session, actor=user, trip=trip, offer_id=data["offer_id"])
    return trip


@trip_blp.route("/<int:trip_id>/withdraw", methods=["POST"])
@trip_blp.arguments(WithdrawSchema)
@trip_blp.response(200, SubmittedTripSchema)
def withdraw(data, trip_id):
    """The applicant withdraws the trip until it is finally approved."""
    user = current_user()
    trip = trips.get_own(db.session, user, trip_id)
    return workflow.withdraw_trip(db.session, actor=user, trip=trip, reason=data["reason"])


@trip_blp.route("/<int:trip_id>/approval")
@trip_blp.response(200, WorkflowSchema)
def approval_of_trip(trip_id):
    """The trip's approval workflow: steps, tasks, who decided (and for whom)."""
    trip = trips.get_visible(db.session, current_user(), trip_id)
    wf = workflow.workflow_of(db.session, trip.id)
    if wf is None:
        raise NotFound("该行程尚未提交审批")
    return wf


# --- tasks ---------------------------------------------------------------------------------

@blp.route("")
@blp.arguments(InboxArgs, location="query")
@blp.response(200, page_schema(TaskSchema))
def inbox(args):
    """The caller's approval tasks, including those delegated to them right now."""
    user = current_user()
    stmt = (select(ApprovalTask).join(Trip, ApprovalTask.trip_id == Trip.id)
            .where(workflow.inbox_filter(user, clock.now()))
            .options(selectinload(ApprovalTask.step),
                     selectinload(ApprovalTask.trip).selectinload(Trip.applicant)))
    if args["state"] != "all":
        stmt = stmt.where(ApprovalTask.state == args["state"])
    return paginate(stmt, ApprovalTask.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/<int:task_id>")
@blp.response(200, TaskSchema)
def get_task(task_id):
    return workflow.get_task(db.session, current_user(), task_id)


@blp.route("/<int:task_id>/approve", methods=["POST"])
@blp.arguments(ApproveSchema)
@blp.response(200, TaskSchema)
def approve(data, task_id):
    """Approve; the same decision again answers with the existing result."""
    return workflow.decide(db.session, actor=current_user(), task_id=task_id, approve=True,
                           comment=data["comment"])


@blp.route("/<int:task_id>/reject", methods=["POST"])
@blp.arguments(RejectSchema)
@blp.response(200, TaskSchema)
def reject(data, task_id):
    """Reject with a reason; the workflow ends and the trip is rejected."""
    return workflow.decide(db.session, actor=current_user(), task_id=task_id, approve=False,
                           comment=data["reason"])


# --- delegations ---------------------------------------------------------------------------

@delegation_blp.route("")
class Delegations(MethodView):
    @delegation_blp.arguments(PageArgs, location="query")
    @delegation_blp.response(200, page_schema(DelegationSchema))
    def get(self, args):
        """Delegations the caller gave or received."""
        stmt = select(Delegation).where(delegation.delegations_filter(current_user()))
        return paginate(stmt, Delegation.id, limit=args["limit"], cursor=args["cursor"])

    @roles_required(Role.APPROVER, Role.PLATFORM_APPROVER)
    @delegation_blp.arguments(DelegationSchema)
    @delegation_blp.response(201, DelegationSchema)
    def post(self, data):
        """Name a delegate for a time range."""
        return delegation.create_delegation(db.session, actor=current_user(), data=data)


@delegation_blp.route("/<int:delegation_id>/revoke", methods=["POST"])
@delegation_blp.response(200, DelegationSchema)
def revoke_delegation(delegation_id):
    return delegation.revoke_delegation(db.session, actor=current_user(),
                                        delegation_id=delegation_id)


# --- admin ---------------------------------------------------------------------------------

def _with_in_force(policy: ApprovalPolicy, version_in_force: int) -> ApprovalPolicy:
    policy.in_force = policy.version == version_in_force
    return policy


@admin_blp.route("/policies")
class Policies(MethodView):
    decorators = [roles_required(Role.ADMIN)]

    @admin_blp.arguments(PageArgs, location="query")
    @admin_blp.response(200, page_schema(PolicySchema))
    def get(self, args):
        """Published policy versions, newest first (none: the built-in default is in force)."""
        page = paginate(select(ApprovalPolicy), ApprovalPolicy.id, limit=args["limit"],
                        cursor=args["cursor"])
        version, _ = admin.policy_in_force(db.session, clock.now())
        page["items"] = [_with_in_force(p, version) for p in page["items"]]
        return page

    @platform_admin
    @admin_blp.arguments(PolicySchema)
    @admin_blp.response(201, PolicySchema)
    def post(self, data):
        """Publish a new version, in force from ``effective_from``."""
        rules = PolicyRulesSchema().dump(data["rules"])
        policy = admin.publish_policy(db.session, actor=current_user(), rules=rules,
                                      effective_from=data["effective_from"], note=data["note"])
        return _with_in_force(policy, admin.policy_in_force(db.session, clock.now())[0])


@admin_blp.route("/policies/current")
@roles_required(Role.ADMIN)
@admin_blp.response(200, CurrentPolicySchema)
def current_policy():
    """The rules in force now (version 0 is the built-in default)."""
    version, rules = admin.policy_in_force(db.session, clock.now())
    return {"version": version, "rules": rules, "in_force": True,
            "effective_from": None, "note": "" if version else "系统默认审批规则"}


@admin_blp.route("/calendar")
class Calendar(MethodView):
    decorators = [roles_required(Role.ADMIN)]

    @admin_blp.arguments(CalendarArgs, location="query")
    @admin_blp.response(200, page_schema(CalendarDaySchema))
    def get(self, args):
        """Maintained dates of one year (default: this year), in date order; one page."""
        year = args.get("year") or clock.local(clock.now()).year
        rows = db.session.scalars(select(CalendarDay).where(extract("year", CalendarDay.day) == year)
                                  .order_by(CalendarDay.day))
        return {"items": list(rows), "next_cursor": None}

    @platform_admin
    @admin_blp.arguments(CalendarDaySchema)
    @admin_blp.response(200, CalendarDaySchema)
    def post(self, data):
        """Add or replace one date: an official holiday or an adjusted working day (调休)."""
        return admin.set_calendar_day(db.session, actor=current_user(), data=data)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise NotFound("日期格式应为 YYYY-MM-DD") from exc


@admin_blp.route("/calendar/<day>")
class CalendarDayView(MethodView):
    decorators = [roles_required(Role.ADMIN)]

    @admin_blp.response(200, DayVerdictSchema)
    def get(self, day: str):
        """How a date counts: workday or not, and whether the official calendar knows it."""
        when = _parse_day(day)
        verdict = load_calendar(db.session, [when]).verdict(when)
        return {"date": when, **verdict.__dict__}

    @platform_admin
    @admin_blp.response(204)
    def delete(self, day: str):
        admin.delete_calendar_day(db.session, actor=current_user(), day=_parse_day(day))
