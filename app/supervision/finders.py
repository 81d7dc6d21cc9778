"""The built-in rules' finders: load the facts of fleet runs, approvals and charges (only
the columns the rule needs, streamed) and ask the pure rules of ``rules.py``."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import false, select

from app.approvals.calendar import load_calendar
from app.approvals.models import ApprovalStep, Workflow, WorkflowState
from app.billing.models import Charge
from app.dispatch.models import TripRun
from app.supervision import rules
from app.trips.models import Channel, Purpose, Trip
from app.violations import Finding, RuleSpec, Scope

BATCH = 5000
RUNS = "finished_runs"  # the group of rules about finished fleet runs
# Trips carry ``one_way`` once the estimates work lands; until then every trip returns.
_ONE_WAY = getattr(Trip, "one_way", None)


def _scoped(stmt, scope: Scope, trip_col, vehicle_col=None):
    if scope.trip_ids is not None:
        stmt = stmt.where(trip_col.in_(scope.trip_ids))
    if scope.vehicle_ids is not None:
        stmt = stmt.where(vehicle_col.in_(scope.vehicle_ids) if vehicle_col is not None else false())
    return stmt


def finished_runs(session, scope: Scope) -> Iterator[rules.RunFacts]:
    """Every finished fleet run (in ``scope``) with its trip's plan."""
    one_way = _ONE_WAY if _ONE_WAY is not None else false()
    stmt = (select(TripRun.trip_id, Trip.unit_id, TripRun.vehicle_id, Trip.purpose_category,
                   Trip.depart_at, Trip.return_at, TripRun.started_at, TripRun.finished_at,
                   TripRun.km, TripRun.odometer_gap_km, Trip.est_distance_km, one_way)
            .join(Trip, Trip.id == TripRun.trip_id)
            .where(TripRun.finished_at.is_not(None)))
    stmt = _scoped(stmt, scope, TripRun.trip_id, TripRun.vehicle_id)
    for row in session.execute(stmt.execution_options(yield_per=BATCH)):
        yield rules.RunFacts(
            trip_id=row[0], unit_id=row[1], vehicle_id=row[2], purpose=str(row[3]),
            depart_at=row[4], return_at=row[5], started_at=row[6], finished_at=row[7],
            km=row[8], odometer_gap_km=row[9] or 0, est_km=row[10], one_way=bool(row[11]))


def _run_finding(code: str, run: rules.RunFacts, facts: dict) -> Finding:
    return Finding(rule=code, subject=f"trip:{run.trip_id}", unit_id=run.unit_id,
                   occurred_at=run.started_at, facts=facts, trip_id=run.trip_id,
                   vehicle_id=run.vehicle_id)


class _CachedCalendar:
    """The official calendar with each day's verdict looked up once (a sweep asks often)."""

    def __init__(self, calendar) -> None:
        self._calendar, self._days = calendar, {}

    def verdict(self, day):
        if day not in self._days:
            self._days[day] = self._calendar.verdict(day)
        return self._days[day]


def find_run_rules(session, *, params_by_rule: dict, scope: Scope, now: datetime) -> list[Finding]:
    """Every enabled run rule over each finished run, read once. ``off_hours`` candidates
    are then cleared when their approval had a platform step."""
    calendar = _CachedCalendar(load_calendar(session))
    simple = [(code, RUN_PREDICATES[code], params) for code, params in params_by_rule.items()
              if code in RUN_PREDICATES]
    night_params = params_by_rule.get("off_hours")
    found: list[Finding] = []
    night: list[tuple[rules.RunFacts, dict]] = []
    for run in finished_runs(session, scope):
        for code, predicate, params in simple:
            facts = predicate(run, params)
            if facts is not None:
                found.append(_run_finding(code, run, facts))
        if night_params is not None:
            facts = rules.off_hours(run, night_params, calendar)
            if facts is not None:
                night.append((run, facts))
    with_platform: set[int] = set()
    ids = [run.trip_id for run, _ in night]
    for start in range(0, len(ids), 500):
        with_platform.update(session.scalars(
            select(Workflow.trip_id).join(ApprovalStep, ApprovalStep.workflow_id == Workflow.id)
            .where(ApprovalStep.approvers == "platform",
                   Workflow.trip_id.in_(ids[start:start + 500]))))
    found.extend(_run_finding("off_hours", run, facts) for run, facts in night
                 if run.trip_id not in with_platform)
    return found


RUN_PREDICATES = {"outside_window": rules.outside_window,
                  "distance_overrun": rules.distance_overrun,
                  "odometer_gap": rules.odometer_gap,
                  "implausible_run": rules.implausible_run}


def find_emergency_unapproved(session, *, params, scope: Scope, now: datetime) -> list[Finding]:
    """Emergency trips not finally approved within the deadline after submit."""
    stmt = (select(Workflow.trip_id, Trip.unit_id, Workflow.submitted_at, Workflow.decided_at,
                   Workflow.state)
            .join(Trip, Trip.id == Workflow.trip_id)
            .where(Trip.purpose_category == Purpose.EMERGENCY,
                   Workflow.state.not_in([WorkflowState.WITHDRAWN, WorkflowState.CANCELLED])))
    stmt = _scoped(stmt, scope, Workflow.trip_id)
    found = []
    for trip_id, unit_id, submitted_at, decided_at, state in session.execute(stmt):
        approved_at = decided_at if state == WorkflowState.APPROVED else None
        facts = rules.emergency_unapproved(submitted_at, approved_at, now, params)
        if facts is not None:
            found.append(Finding(rule="emergency_unapproved", subject=f"trip:{trip_id}",
                                 unit_id=unit_id, occurred_at=submitted_at, facts=facts,
                                 trip_id=trip_id))
    return found


def _charge_rule(code: str, channel: Channel, limit_col, predicate):
    def find(session, *, params, scope: Scope, now: datetime) -> list[Finding]:
        stmt = (select(Charge.trip_id, Charge.unit_id, Charge.total, limit_col,
                       Charge.finished_at, Charge.supplier)
                .where(Charge.channel == channel, limit_col.is_not(None),
                       Charge.total > limit_col))
        stmt = _scoped(stmt, scope, Charge.trip_id)
        found = []
        for trip_id, unit_id, total, limit, finished_at, supplier in session.execute(stmt):
            facts = predicate(total, limit, params)
            if facts is not None:
                found.append(Finding(rule=code, subject=f"trip:{trip_id}", unit_id=unit_id,
                                     occurred_at=finished_at,
                                     facts={**facts, "supplier": supplier}, trip_id=trip_id))
        return found
    return find


def builtin_rules() -> list[RuleSpec]:
    """The rules of SPEC §6.1 that look at trips, approvals and charges."""
    d = rules.DEFAULT_PARAMS
    return [
        RuleSpec("off_hours", "非工作时间用车", "medium", d["off_hours"], None,
                 "夜间（22:00–06:00）或非工作日出车且未经平台审批（应急、执法除外）", RUNS),
        RuleSpec("outside_window", "超出审批时段", "low", d["outside_window"], None,
                 "出发前60分钟以前出车，或返回时间后120分钟以后收车", RUNS),
        RuleSpec("distance_overrun", "里程超出预估", "medium", d["distance_overrun"], None,
                 "实际里程超过全程预估的130%且多出至少20公里", RUNS),
        RuleSpec("odometer_gap", "里程表读数不衔接", "high", d["odometer_gap"], None,
                 "出车读数比该车上次收车读数多出5公里以上（账实不符）", RUNS),
        RuleSpec("implausible_run", "行驶数据异常", "medium", d["implausible_run"], None,
                 "平均时速超过120公里，或一天行驶超过1000公里", RUNS),
        RuleSpec("emergency_unapproved", "应急用车未补审批", "high", d["emergency_unapproved"],
                 find_emergency_unapproved, "应急用车（先用后补）提交24小时后仍未完成审批"),
        RuleSpec("over_ceiling_bill", "租车账单超协议上限", "high", d["over_ceiling_bill"],
                 _charge_rule("over_ceiling_bill", Channel.RENTAL, Charge.ceiling,
                              rules.over_ceiling_bill), "租赁公司账单高于框架协议上限"),
        RuleSpec("fare_over_estimate", "网约车车费超预估", "low", d["fare_over_estimate"],
                 _charge_rule("fare_over_estimate", Channel.RIDEHAIL, Charge.estimate,
                              rules.fare_over_estimate), "网约车实际车费高于锁定预估20%以上"),
    ]
