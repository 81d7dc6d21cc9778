"""Running the position rules and keeping what they find (once per rule and subject).

Until the supervision machinery's rule registry is on this branch, the worker's
``positions.detect`` job runs every rule of ``finders.RULES`` with its default parameters
and records each finding in ``position_findings``; re-running adds nothing. Moving to the
registry is registering each rule there (its ``find`` already has the registry's
signature and answers its ``Finding`` shape) and dropping this module and the table.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from app import db
from app.positions import finders
from app.positions.models import PositionFinding
from app.positions.rules import DEFAULT_PARAMS


def record(session, finding: finders.Finding, now: datetime) -> bool:
    """Keep ``finding`` unless its rule and subject are there already; whether it was new."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(PositionFinding)
    row = session.execute(insert.values(
        rule=finding.rule, subject=finding.subject, vehicle_id=finding.vehicle_id,
        trip_id=finding.trip_id, unit_id=finding.unit_id, detected_at=now,
        facts={"occurred_at": finding.occurred_at.isoformat(), **finding.facts})
        .on_conflict_do_nothing(index_elements=["rule", "subject"])
        .returning(PositionFinding.id)).first()
    return row is not None


def detect(session, now: datetime, scope: finders.Scope | None = None) -> int:
    """Run every position rule over recent runs and vehicles; returns new findings."""
    db.begin_write(session)
    scope = scope or finders.Scope()
    new = 0
    for rule in finders.RULES:
        for finding in rule.find(session, params=DEFAULT_PARAMS[rule.code], scope=scope, now=now):
            new += record(session, finding, now)
    return new
