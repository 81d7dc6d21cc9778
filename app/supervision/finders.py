"""The built-in rules' finders: load the facts of fleet runs, approvals and charges (only
the columns the rule needs, streamed) and ask the pure rules of ``rules.py``."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import false, select, type_coerce
from sqlalchemy.types import NullType

from app.approvals.calendar import load_calendar
from app.approvals.models import ApprovalStep, Workflow, WorkflowState
from app.billing.models import Charge
from app.dispatch.models import TripRun
from app.supervision import rules
from app.trips.models import Channel, Purpose, Trip
from app.violations import Finding, RuleSpec, Scope

BATCH = 5000
KM = Decimal("0.1")
RUNS = "finished_runs"  # the group of rules about finished fleet runs


def _scoped(stmt, scope: Scope, trip_col, vehicle_col=None):
    if scope.trip_ids is not None:
        stmt = stmt.where(trip_col.in_(scope.trip_ids))
    if scope.vehicle_ids is not None:
        stmt = stmt.where(vehicle_col.in_(scope.vehicle_ids) if vehicle_col is not None else false())
    return stmt


RUN_COLUMNS = (TripRun.trip_id, Trip.unit_id, TripRun.vehicle_id, Trip.purpose_category,
               Trip.depart_at, Trip.return_at, TripRun.started_at, TripRun.finished_at,
               TripRun.km, TripRun.odometer_gap_km, Trip.est_distance_km)


def _finished_rows(session, scope: Scope):
    """Every finished fleet run (in ``scope``) with its trip's plan, streamed in batches as
    the driver's raw values (a sweep reads a million: ``_run_facts`` types the few it keeps)."""
    stmt = (select(*(type_coerce(c, NullType()) for c in RUN_COLUMNS))
            .join(Trip, Trip.id == TripRun.trip_id)
            .where(TripRun.finished_at.is_not(None)))
    stmt = _scoped(stmt, scope, TripRun.trip_id, TripRun.vehicle_id)
    return session.connection().execute(stmt.execution_options(yield_per=BATCH))


def _parsed(value) -> datetime:
    """A raw time column as a datetime, UTC (naive from SQLite) — for the quick look."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _utc(value) -> datetime:
    """A raw time column: PostgreSQL's aware datetime, or SQLite's UTC text."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def _km(value) -> Decimal | None:
    """A raw km column (NUMERIC(…, 1)): SQLite may hand back 53 for 53.0."""
    return None if value is None else Decimal(str(value)).quantize(KM)


def _run_facts(row) -> rules.RunFacts:
    return rules.RunFacts(
        trip_id=row[0], unit_id=row[1], vehicle_id=row[2], purpose=str(row[3]),
        depart_at=_utc(row[4]), return_at=_utc(row[5]), started_at=_utc(row[6]),
        finished_at=_utc(row[7]), km=_km(row[8]) or Decimal(0),
        odometer_gap_km=_km(row[9]) or Decimal(0), est_km=_km(row[10]))


def finished_runs(session, scope: Scope) -> Iterator[rules.RunFacts]:
    """Every finished fleet run (in ``scope``) as the rules' facts."""
    for row in _finished_rows(session, scope):
        yield _run_facts(row)


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


# Asia/Shanghai is UTC+8 all year (no daylight saving since 1991): the sweep's quick look
# at local times adds this instead of converting each time.
EIGHT_HOURS = timedelta(hours=8)


def find_run_rules(session, *, params_by_rule: dict, scope: Scope, now: datetime) -> list[Finding]:
    """Every enabled run rule over each finished run, read once. A quick look at the raw
    row (a necessary condition of each rule, no more) decides which runs the exact rules
    of ``rules.py`` judge; ``off_hours`` candidates are then cleared when their approval had
    a platform step."""
    calendar = _CachedCalendar(load_calendar(session))
    p = params_by_rule
    window = p.get("outside_window")
    early = timedelta(minutes=int(window["early_minutes"])) if window else None
    late = timedelta(minutes=int(window["late_minutes"])) if window else None
    # The quick look compares floats with a margin; the exact rules compare Decimals.
    gap_min = float(p["odometer_gap"]["min_km"]) if "odometer_gap" in p else None
    ratio = float(p["distance_overrun"]["ratio"]) if "distance_overrun" in p else None
    speed = float(p["implausible_run"]["max_speed_kmh"]) if "implausible_run" in p else None
    day_km = float(p["implausible_run"]["max_day_km"]) if speed is not None else None
    night = p.get("off_hours")
    if night is not None:
        night_start, night_end = rules.hhmm(night["night_start"]), rules.hhmm(night["night_end"])
    found: list[Finding] = []
    late_ones: list[tuple[rules.RunFacts, dict]] = []
    for row in _finished_rows(session, scope):
        (_, _, _, purpose, depart, back, started, finished, km, gap, est) = row
        depart, back = _parsed(depart), _parsed(back)
        started, finished = _parsed(started), _parsed(finished)
        km = float(km or 0)
        look: list[str] = []
        if window and (depart - started > early or finished - back > late):
            look.append("outside_window")
        if gap_min is not None and gap is not None and float(gap) >= gap_min - 0.01:
            look.append("odometer_gap")
        if ratio is not None and est and km >= float(est) * ratio - 0.01:
            look.append("distance_overrun")
        if speed is not None:
            hours = (finished - started).total_seconds() / 3600
            if km > day_km - 0.01 or (hours > 0 and km > speed * hours * 0.999):
                look.append("implausible_run")
        off = False
        if night is not None and purpose not in rules.OFF_HOURS_EXEMPT:
            s_local, f_local = started + EIGHT_HOURS, finished + EIGHT_HOURS
            day = s_local.date()
            off = not (day == f_local.date() and night_end <= s_local.time()
                       and f_local.time() <= night_start and night_end <= night_start
                       and calendar.verdict(day).workday)
        if not look and not off:
            continue
        run = _run_facts(row)
        for code in look:
            facts = RUN_PREDICATES[code](run, p[code])
            if facts is not None:
                found.append(_run_finding(code, run, facts))
        if off:
            facts = rules.off_hours(run, night, calendar)
            if facts is not None:
                late_ones.append((run, facts))
    with_platform: set[int] = set()
    ids = [run.trip_id for run, _ in late_ones]
    for start in range(0, len(ids), 500):
        with_platform.update(session.scalars(
            select(Workflow.trip_id).join(ApprovalStep, ApprovalStep.workflow_id == Workflow.id)
            .where(ApprovalStep.approvers == "platform",
                   Workflow.trip_id.in_(ids[start:start + 500]))))
    found.extend(_run_finding("off_hours", run, facts) for run, facts in late_ones
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
