"""Small factories for rows the tests need directly (one place for all of them)."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from app import clock
from app.billing.models import Charge, ChargeLine
from app.trips.models import Trip, TripState

STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "武进区政府", "lat": 31.70, "lng": 119.94}]


def trip(session, *, applicant_id: int, unit_id: int, state: TripState = TripState.DRAFT,
         depart_at: datetime | None = None, hours: float = 3, **fields) -> Trip:
    depart_at = depart_at or clock.now() + timedelta(days=1)
    row = Trip(applicant_id=applicant_id, unit_id=unit_id, state=state,
               purpose_category=fields.pop("purpose_category", "meeting"),
               purpose_text=fields.pop("purpose_text", "工作会议"),
               passengers=fields.pop("passengers", [{"name": "张明"}]),
               stops=fields.pop("stops", STOPS), depart_at=depart_at,
               return_at=depart_at + timedelta(hours=hours), **fields)
    session.add(row)
    session.flush()
    return row


def charge(session, *, trip: Trip, total: str | Decimal, supplier: str = "fleet",
           channel: str = "fleet", finished_at: datetime | None = None, final: bool = True,
           held: bool = False) -> Charge:
    total = Decimal(total)
    row = Charge(trip_id=trip.id, unit_id=trip.unit_id, channel=channel, supplier=supplier,
                 order_id=f"{supplier}-{trip.id}", total=total,
                 finished_at=finished_at or trip.return_at, final=final, held=held,
                 lines=[ChargeLine(kind="base", description="用车费", amount=total)])
    session.add(row)
    session.flush()
    return row
