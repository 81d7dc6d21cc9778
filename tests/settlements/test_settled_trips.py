"""A trip is settled when the statement carrying its charge closes (SETTLED is reachable)."""
from datetime import datetime

from app import clock, db
from app.trips.models import Trip, TripState
from tests import factories

SH = clock.SHANGHAI


def test_closing_a_statement_settles_its_confirmed_trips(api, app, demo, drc_finance):
    u, units = demo["users"], demo["units"]
    with app.app_context():
        s = db.session
        unit = units["常州市发展和改革委员会"]
        paid = factories.trip(s, applicant_id=u["demo-traveler"], unit_id=unit, state="confirmed",
                              depart_at=datetime(2026, 10, 10, 9, tzinfo=SH))
        factories.charge(s, trip=paid, total="70.00")
        other = factories.trip(s, applicant_id=u["demo-traveler"], unit_id=unit, state="confirmed",
                               depart_at=datetime(2026, 10, 11, 9, tzinfo=SH))
        factories.charge(s, trip=other, total="90.00", supplier="rental-a", channel="rental")
        s.commit()
        paid_id, other_id = paid.id, other.id
        db.session.remove()
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()["items"]
    fleet = next(i["id"] for i in items if i["supplier"] == "fleet")
    assert api.post(f"/settlements/{fleet}/issue", as_="demo-finance").status_code == 200
    assert api.post(f"/settlements/{fleet}/confirm", as_=drc_finance).status_code == 200
    # not yet closed: still confirmed
    assert api.get(f"/trips/{paid_id}", as_="demo-traveler").get_json()["state"] == "confirmed"
    assert api.post(f"/settlements/{fleet}/close", as_="demo-finance").status_code == 200
    trip = api.get(f"/trips/{paid_id}", as_="demo-traveler").get_json()
    assert trip["state"] == "settled" and trip["history"][-1]["state"] == "settled"
    assert trip["allowed_actions"] == []
    # the rental statement is still open: its trip is not settled
    with app.app_context():
        assert db.session.get(Trip, other_id).state == TripState.CONFIRMED
        db.session.remove()
