"""The trip lifecycle's one definition of "dispatchable", in Python and in SQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.trips.models import Purpose, Trip, TripState

CASES = [(state, purpose) for state in TripState for purpose in (Purpose.MEETING, Purpose.EMERGENCY)]
DISPATCHABLE = {(TripState.APPROVED, Purpose.MEETING), (TripState.APPROVED, Purpose.EMERGENCY),
                (TripState.PENDING_APPROVAL, Purpose.EMERGENCY)}


@pytest.mark.parametrize("state, purpose", CASES)
def test_dispatchable_on_the_object(state, purpose):
    trip = Trip(state=state, purpose_category=purpose)
    assert trip.dispatchable is ((state, purpose) in DISPATCHABLE)


def test_the_sql_twin_selects_the_same_trips(session, demo):
    depart = datetime(2027, 1, 4, 1, 0, tzinfo=timezone.utc)
    for state, purpose in CASES:
        session.add(Trip(unit_id=next(iter(demo["units"].values())),
                         applicant_id=demo["users"]["demo-traveler"], state=state,
                         purpose_category=purpose, depart_at=depart,
                         return_at=depart + timedelta(hours=2), stops=[], passengers=[]))
    session.flush()
    found = {(t.state, t.purpose_category)
             for t in session.scalars(select(Trip).where(Trip.dispatchable))}
    assert found == DISPATCHABLE
