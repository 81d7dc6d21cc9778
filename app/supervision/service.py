"""Supervision use cases: rule versions in force, recording what rules find (idempotent),
the daily sweep, and the case workflow open → explained → closed(upheld | dismissed)."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app import audit, clock, db
from app.accounts.models import Role, Unit, User, UserRole
from app.errors import Forbidden, IllegalTransition, NotFound, ValidationFailed
from app.notifications.service import notify
from app.security import in_scope, scope_filter
from app.supervision.models import (VIOLATION_LABELS, Outcome, Violation, ViolationEvent,
                                    ViolationRuleVersion, ViolationState)
from app.violations import Finding, RuleSpec, Scope, registered_groups, registered_rules

log = logging.getLogger(__name__)
V = ViolationState


# --- rules as data ---------------------------------------------------------------------

@dataclass(frozen=True)
class RuleInForce:
    code: str
    label: str
    description: str
    version: int  # 0: the registered defaults
    params: dict[str, Any]
    severity: str
    enabled: bool


def _wire(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _typed(spec: RuleSpec, stored: dict[str, Any]) -> dict[str, Any]:
    """Stored params back to the defaults' types (Decimals travel as strings)."""
    return {key: Decimal(str(stored[key])) if isinstance(default, Decimal) else stored[key]
            for key, default in spec.params.items() if key in stored} | {
        key: default for key, default in spec.params.items() if key not in stored}


def rules_in_force(session) -> list[RuleInForce]:
    """Every registered rule with its newest version (or its defaults)."""
    newest: dict[str, ViolationRuleVersion] = {}
    for row in session.scalars(select(ViolationRuleVersion).order_by(ViolationRuleVersion.version)):
        newest[row.code] = row
    answer = []
    for code, spec in registered_rules().items():
        row = newest.get(code)
        answer.append(RuleInForce(
            code=code, label=spec.label, description=spec.description,
            version=row.version if row else 0,
            params=_typed(spec, row.params) if row else dict(spec.params),
            severity=row.severity if row else spec.severity,
            enabled=row.enabled if row else True))
    return answer


def _check_params(spec: RuleSpec, given: dict[str, Any]) -> dict[str, Any]:
    """An admin's params: the rule's keys only, each of its default's type, non-negative."""
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(given) - set(spec.params))
    for key in unknown:
        errors[key] = ["该规则没有此参数"]
    clean: dict[str, Any] = {}
    for key, default in spec.params.items():
        if key not in given:
            clean[key] = _wire(default)
            continue
        value = given[key]
        try:
            if isinstance(default, bool) or isinstance(value, bool):
                raise ValueError
            if isinstance(default, int):
                number = int(value)
                if number != value or number < 0:
                    raise ValueError
                clean[key] = number
            elif isinstance(default, Decimal):
                if isinstance(value, float):
                    raise ValueError
                number = Decimal(str(value))
                if not number.is_finite() or number < 0 or number > 100000:
                    raise ValueError
                clean[key] = str(number)
            else:
                hours, minutes = str(value).split(":")
                if not (len(hours) == 2 and len(minutes) == 2 and 0 <= int(hours) < 24
                        and 0 <= int(minutes) < 60):
                    raise ValueError
                clean[key] = str(value)
        except (ValueError, TypeError, OverflowError, InvalidOperation):
            kind = ("非负整数" if isinstance(default, int) else
                    "非负数字（字符串）" if isinstance(default, Decimal) else "时间 HH:MM")
            errors[key] = [f"应为{kind}"]
    if errors:
        raise ValidationFailed("规则参数有误", errors={"params": errors})
    return clean


def publish_rule(session, *, actor: User, code: str, params: dict[str, Any] | None,
                 severity: str | None, enabled: bool | None, note: str = "") -> RuleInForce:
    """Add a new version of one rule (the old ones stay; cases keep the version they used)."""
    spec = registered_rules().get(code)
    if spec is None:
        raise ValidationFailed("没有该违规规则", errors={"code": ["未知的规则编码"]})
    current = next(r for r in rules_in_force(session) if r.code == code)
    clean = _check_params(spec, params) if params is not None else {
        k: _wire(v) for k, v in current.params.items()}
    last = session.scalar(select(ViolationRuleVersion.version)
                          .where(ViolationRuleVersion.code == code)
                          .order_by(ViolationRuleVersion.version.desc()).limit(1)
                          .with_for_update())
    row = ViolationRuleVersion(code=code, version=(last or 0) + 1, params=clean,
                               severity=severity or current.severity,
                               enabled=current.enabled if enabled is None else enabled,
                               note=note, created_by_id=actor.id)
    session.add(row)
    session.flush()
    audit.record(session, entity="violation_rule_versions", entity_id=row.id, action="published",
                 actor_id=actor.id, data={"code": code, "version": row.version, "params": clean,
                                          "severity": row.severity, "enabled": row.enabled})
    return next(r for r in rules_in_force(session) if r.code == code)


# --- recording findings ----------------------------------------------------------------

def _insert(session):
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(
        Violation.__table__)


def record_findings(session, findings: Iterable[Finding], rule: RuleInForce,
                    *, now: datetime) -> list[int]:
    """Open a case for each finding not yet on record; returns the new cases' ids.

    One case per (rule, subject): the insert skips a subject already recorded (also when a
    concurrent sweep recorded it a moment ago), so re-running adds nothing and a rule's
    new version does not duplicate the history."""
    rows = [{"rule": f.rule, "subject": f.subject, "rule_version": rule.version,
             "severity": rule.severity, "state": V.OPEN, "unit_id": f.unit_id,
             "trip_id": f.trip_id, "vehicle_id": f.vehicle_id, "occurred_at": f.occurred_at,
             "detected_at": now, "facts": dict(f.facts), "explanation": "",
             "close_comment": "", "version": 1} for f in findings]
    new: list[tuple[int, int, int | None]] = []
    for start in range(0, len(rows), 1000):
        stmt = (_insert(session).on_conflict_do_nothing(index_elements=["rule", "subject"])
                .returning(Violation.__table__.c.id, Violation.__table__.c.unit_id,
                           Violation.__table__.c.trip_id))
        new.extend(tuple(r) for r in session.execute(stmt, rows[start:start + 1000]))
    if not new:
        return []
    session.execute(insert(ViolationEvent.__table__), [
        {"violation_id": vid, "from_state": None, "to_state": V.OPEN, "at": now,
         "actor_id": None, "comment": "", "data": {"rule_version": rule.version}}
        for vid, _, _ in new])
    session.execute(insert(audit.AuditEntry.__table__), [
        {"at": now, "actor_id": None, "on_behalf_of_id": None, "entity": "violations",
         "entity_id": vid, "action": "state:open",
         "data": {"rule": rule.code, "rule_version": rule.version, "trip_id": trip_id}}
        for vid, _, trip_id in new])
    _notify_opened(session, rule, new, now=now)
    return [vid for vid, _, _ in new]


def _unit_officers(session, unit_id: int, cache: dict[int, list[User]]) -> list[User]:
    """The unit's approvers and admins (else its parent's): who explains its cases."""
    if unit_id not in cache:
        unit = session.get(Unit, unit_id)
        people: list[User] = []
        while unit is not None and not people:
            people = list(session.scalars(
                select(User).join(UserRole, UserRole.user_id == User.id)
                .where(User.unit_id == unit.id, User.active,
                       UserRole.role.in_([Role.APPROVER, Role.ADMIN]))
                .order_by(User.id).distinct()))
            unit = unit.parent
        cache[unit_id] = people
    return cache[unit_id]


def case_no(violation_id: int, at: datetime) -> str:
    return f"WG{clock.local_date(at):%Y%m%d}{violation_id:06d}"


def _notify_opened(session, rule: RuleInForce, new: list[tuple[int, int, int | None]], *,
                   now: datetime) -> None:
    """Tell the unit's approvers and admins (SPEC §10): a message-centre entry each, and a
    WeChat message while they hold a grant for the template."""
    cache: dict[int, list[User]] = {}
    for vid, unit_id, _ in new:
        for user in _unit_officers(session, unit_id, cache):
            notify(session, user, "violation_opened",
                   {"thing1": rule.label, "character_string2": case_no(vid, now),
                    "time3": now, "phrase4": "待说明"},
                   f"pages/supervision/violation?id={vid}", ref=f"violation:{vid}", now=now)


def run_rules(session, *, scope: Scope, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Run every enabled rule over ``scope`` (a group's rules in one pass); per rule, how
    many it found and how many of those are new cases."""
    now = now or clock.now()
    specs = registered_rules()
    enabled = {rule.code: rule for rule in rules_in_force(session) if rule.enabled}
    found: dict[str, list[Finding]] = {code: [] for code in enabled}
    groups: dict[str, dict[str, dict]] = {}
    for code, rule in enabled.items():
        spec = specs[code]
        if spec.group is not None:
            groups.setdefault(spec.group, {})[code] = rule.params
        else:
            found[code].extend(spec.find(session, params=rule.params, scope=scope, now=now))
    finders = registered_groups()
    for group, params_by_rule in groups.items():
        for finding in finders[group](session, params_by_rule=params_by_rule, scope=scope,
                                      now=now):
            found[finding.rule].append(finding)
    counts: dict[str, dict[str, int]] = {}
    for code, findings in found.items():
        new = record_findings(session, findings, enabled[code], now=now)
        counts[code] = {"found": len(findings), "new": len(new)}
    return counts


def sweep(session, *, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """The daily sweep over everything (idempotent). Callers take SQLite's single-writer
    lock first (``db.begin_write``), so two sweeps at once queue instead of failing."""
    counts = run_rules(session, scope=Scope(), now=now)
    log.info("supervision sweep: %s", counts)
    return counts


def sweep_job(session, now: datetime) -> int:
    """Worker job: the daily sweep; returns the number of new cases."""
    db.begin_write(session)
    return sum(c["new"] for c in sweep(session, now=now).values())


def on_check(session, *, scope: Scope) -> dict[str, dict[str, int]]:
    """``violation_check``: a domain asked for its subjects to be checked now."""
    return run_rules(session, scope=scope)


def check_trip(session, *, trip, **_) -> None:
    """Lifecycle events (a run finished, a trip confirmed, a provider's bill): check it."""
    run_rules(session, scope=Scope(trip_ids=(trip.id,)))


# --- cases -----------------------------------------------------------------------------

def may_read_cases(user: User) -> bool:
    return user.has_role(Role.SUPERVISOR, Role.APPROVER, Role.ADMIN)


def visible_filter(user: User):
    """Supervisors see every case; unit approvers and admins their subtree's."""
    if user.has_role(Role.SUPERVISOR):
        return None
    if user.has_role(Role.APPROVER, Role.ADMIN):
        return scope_filter(user, Violation.unit_id)
    raise Forbidden()


def get_case(session, user: User, violation_id: int) -> Violation:
    if not may_read_cases(user):
        raise Forbidden()
    case = session.get(Violation, violation_id)
    if case is None or not (user.has_role(Role.SUPERVISOR) or in_scope(user, case.unit)):
        raise NotFound("违规线索不存在")
    return case


def explain(session, *, actor: User, violation_id: int, text: str) -> Violation:
    """The unit explains an open case (open → explained)."""
    case = get_case(session, actor, violation_id)
    if not case.can_explain(actor):
        if case.state != V.OPEN:
            raise IllegalTransition(f"违规线索当前状态为“{VIOLATION_LABELS[case.state]}”，不能再说明",
                                    code="not_open", errors={"state": case.state.value})
        raise Forbidden("只有本单位审批人或管理员可以说明", code="not_case_unit")
    case.explanation = text
    case.transition(session, V.EXPLAINED, actor_id=actor.id, comment=text)
    session.flush()
    return case


def close(session, *, actor: User, violation_id: int, outcome: str, comment: str) -> Violation:
    """A supervisor closes a case, explained or not: upheld or dismissed."""
    case = get_case(session, actor, violation_id)
    if not actor.has_role(Role.SUPERVISOR):
        raise Forbidden("只有监督人员可以办结", code="supervisor_only")
    case.transition(session, V.CLOSED, actor_id=actor.id, comment=comment,
                    data={"outcome": outcome})
    case.outcome, case.close_comment, case.closed_at = Outcome(outcome), comment, clock.now()
    session.flush()
    return case
