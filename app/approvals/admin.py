"""Approval admin: the versioned approval policy and the official calendar's entries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app import audit
from app.accounts.models import User
from app.approvals.models import ApprovalPolicy, CalendarDay
from app.approvals.policy import DEFAULT_RULES
from app.errors import NotFound


def policy_in_force(session, at: datetime) -> tuple[int, dict]:
    """(version, rules) in force at ``at``; version 0 is the built-in default of SPEC §4."""
    row = session.scalars(select(ApprovalPolicy).where(ApprovalPolicy.effective_from <= at)
                          .order_by(ApprovalPolicy.effective_from.desc(),
                                    ApprovalPolicy.version.desc()).limit(1)).first()
    return (row.version, row.rules) if row is not None else (0, DEFAULT_RULES)


def publish_policy(session, *, actor: User, rules: dict, effective_from: datetime,
                   note: str = "") -> ApprovalPolicy:
    """Add a new policy version (old versions stay, for the workflows that used them)."""
    last = session.scalar(select(ApprovalPolicy.version).order_by(ApprovalPolicy.version.desc())
                          .limit(1).with_for_update())
    policy = ApprovalPolicy(version=(last or 0) + 1, effective_from=effective_from, rules=rules,
                            note=note, created_by_id=actor.id)
    session.add(policy)
    session.flush()
    audit.record(session, entity="approval_policies", entity_id=policy.id, action="published",
                 actor_id=actor.id, data={"version": policy.version,
                                          "effective_from": effective_from.isoformat()})
    return policy


def set_calendar_day(session, *, actor: User, data: dict) -> CalendarDay:
    """Add or replace the admin calendar entry for one date."""
    row = session.get(CalendarDay, data["day"])
    if row is None:
        row = CalendarDay(day=data["day"])
        session.add(row)
    row.kind, row.note, row.updated_by_id = data["kind"], data.get("note", ""), actor.id
    session.flush()
    audit.record(session, entity="calendar_days", entity_id=int(data["day"].strftime("%Y%m%d")),
                 action="set", actor_id=actor.id,
                 data={"day": data["day"].isoformat(), "kind": str(data["kind"]),
                       "note": row.note})
    return row


def delete_calendar_day(session, *, actor: User, day) -> None:
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFound("该日期没有维护记录")
    audit.record(session, entity="calendar_days", entity_id=int(day.strftime("%Y%m%d")),
                 action="deleted", actor_id=actor.id, data={"day": day.isoformat()})
    session.delete(row)
