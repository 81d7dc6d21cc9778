"""Running the position rules as fixes arrive: every few minutes the worker asks the
violation rule registry to check the vehicles that reported recently (supervision runs the
enabled rules over them and opens each case once; its daily sweep covers the rest)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app import db, violations
from app.positions.finders import LOOKBACK
from app.positions.models import LatestPosition


def detect(session, now: datetime) -> int:
    """Check the vehicles with a fix in ``LOOKBACK``; returns how many cases were opened."""
    db.begin_write(session)
    recent = session.scalars(select(LatestPosition.vehicle_id)
                             .where(LatestPosition.at >= now - LOOKBACK)).all()
    if not recent:
        return 0
    answers = violations.check(session, vehicle_ids=recent)
    return sum(counts.get("new", 0) for answer in answers if answer
               for counts in answer.values())
