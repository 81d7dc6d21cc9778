"""The dispatch queue read as a UNION of index scans picks exactly the trips of its condition."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select

from app.dispatch.assignment import queue_branches, queue_condition
from app.trips.models import Channel, Purpose, Trip, TripState


def test_the_branches_select_what_the_condition_selects(session, demo):
    depart = datetime(2027, 1, 4, 1, 0, tzinfo=timezone.utc)
    unit = next(iter(demo["units"].values()))
    for state in TripState:
        for purpose in (Purpose.MEETING, Purpose.EMERGENCY):
            for channel, issue in ((Channel.FLEET, None), (Channel.RENTAL, None),
                                   (Channel.RIDEHAIL, "订单失败"), (None, None)):
                session.add(Trip(unit_id=unit, applicant_id=demo["users"]["demo-traveler"],
                                 state=state, purpose_category=purpose, channel=channel,
                                 dispatch_issue=issue, depart_at=depart,
                                 return_at=depart + timedelta(hours=2), stops=[], passengers=[]))
    session.flush()
    wanted = set(session.scalars(select(Trip.id).where(queue_condition())))
    assert wanted and wanted == set(session.scalars(select(Trip.id).where(or_(*queue_branches()))))
