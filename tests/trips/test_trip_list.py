"""GET /trips: who sees which trips, page after page, and the console's filters."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from app import clock, db
from app.accounts.models import Vehicle
from app.dispatch.models import Assignment
from app.orders.models import ProviderOrder
from app.trips.models import Channel, TripState
from tests import factories
from tests.factories import ok


@pytest.fixture
def trips(app, demo):
    """Trips of three units: the DRC (the demo traveller's), Wujin's market bureau, and one
    the demo traveller applied for while at Wujin (moved since). Written in an app context of
    its own: requests made while one is pushed would share its ``g`` (the caller)."""
    with app.app_context():
        made = _make_trips(db.session, demo)
        db.session.commit()
        db.session.remove()
    return made


def _make_trips(session, demo):
    users, units = demo["users"], demo["units"]
    drc, wujin = units["常州市发展和改革委员会"], units["武进区市场监督管理局"]
    base = clock.now() + timedelta(days=2)
    made = {"drc": [], "wujin": [], "moved": None}
    for i in range(7):
        made["drc"].append(factories.trip(
            session, applicant_id=users["demo-traveler"], unit_id=drc, depart_at=base + timedelta(days=i),
            state=TripState.APPROVED if i % 2 else TripState.DRAFT,
            channel=Channel.FLEET if i % 2 else Channel.RIDEHAIL).id)
        made["wujin"].append(factories.trip(
            session, applicant_id=users["demo-traveler-2"], unit_id=wujin,
            depart_at=base + timedelta(days=i)).id)
    made["moved"] = factories.trip(session, applicant_id=users["demo-traveler"], unit_id=wujin,
                                   depart_at=base).id
    return made


def _all(api, as_, query=""):
    """Every page of GET /trips, following the cursor; the ids in order."""
    ids, cursor = [], None
    while True:
        params = f"limit=3{query}" + (f"&cursor={cursor}" if cursor else "")
        body = ok(api.get(f"/trips?{params}", as_))
        ids += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids


def test_a_traveller_pages_through_their_own_trips_newest_first(api, trips):
    assert _all(api, "demo-traveler") == sorted(trips["drc"] + [trips["moved"]], reverse=True)


def test_an_approver_sees_their_subtree_and_their_own_trips_once(api, trips):
    # The DRC approver: the DRC's trips; not Wujin's, though the moved one is in Wujin.
    assert _all(api, "demo-approver") == sorted(trips["drc"], reverse=True)
    # Wujin's approver sees the moved trip (in their unit) and Wujin's own.
    assert _all(api, "demo-approver-2") == sorted(trips["wujin"] + [trips["moved"]], reverse=True)


def test_the_supervisor_at_the_city_root_sees_every_trip(api, trips):
    everything = trips["drc"] + trips["wujin"] + [trips["moved"]]
    assert _all(api, "demo-supervisor") == sorted(everything, reverse=True)


def test_filters_state_channel_unit_and_departure_range(api, trips, demo):
    drc = demo["units"]["常州市发展和改革委员会"]
    approved = [t for i, t in enumerate(trips["drc"]) if i % 2]
    assert _all(api, "demo-supervisor", "&state=approved") == sorted(approved, reverse=True)
    assert _all(api, "demo-supervisor", "&channel=ridehail") == sorted(
        set(trips["drc"]) - set(approved), reverse=True)
    assert _all(api, "demo-supervisor", f"&unit_id={drc}") == sorted(trips["drc"], reverse=True)
    start = clock.local(clock.now() + timedelta(days=3))
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    window = (f"&depart_from={start.isoformat()}&depart_to="
              f"{(start + timedelta(days=2)).isoformat()}").replace("+", "%2B")
    got = _all(api, "demo-approver", window)
    assert len(got) == 2 and set(got) <= set(trips["drc"])


def test_filter_by_plate_finds_fleet_and_provider_trips(app, api, trips):
    fleet_trip, provider_trip = trips["drc"][1], trips["drc"][0]
    depart = clock.now() + timedelta(days=30)
    with app.app_context():
        session = db.session
        vehicle = session.query(Vehicle).order_by(Vehicle.id).first()
        plate = vehicle.plate
        session.add(Assignment(trip_id=fleet_trip, vehicle_id=vehicle.id,
                               driver_id=_driver_id(session), starts_at=depart,
                               ends_at=depart + timedelta(hours=1),
                               busy_until=depart + timedelta(hours=2),
                               active=False, auto=True, reason=""))
        session.add(ProviderOrder(trip_id=provider_trip, provider="ridehail",
                                  out_order_id="RH-1", plate="苏D88888"))
        session.commit()
        session.remove()
    assert _all(api, "demo-supervisor", f"&plate={plate}") == [fleet_trip]
    assert _all(api, "demo-supervisor", "&plate=苏D88888") == [provider_trip]
    assert _all(api, "demo-supervisor", "&plate=苏D00000") == []


def _driver_id(session):
    from app.accounts.models import Driver

    return session.query(Driver).order_by(Driver.id).first().id


@pytest.mark.parametrize("query,field", [("colour=red", "colour"), ("state=flying", "state"),
                                         ("unit_id=abc", "unit_id"),
                                         ("depart_from=2026-01-01", "depart_from")])
def test_an_unknown_or_bad_filter_is_a_field_error(api, query, field):
    resp = api.get(f"/trips?{query}", "demo-supervisor")
    assert resp.status_code == 422
    body = resp.get_json()
    assert field in str(body["errors"]) and body["message"]


def test_a_foreign_cursor_is_refused(api):
    bad = base64.urlsafe_b64encode(b"drop table").decode()
    resp = api.get(f"/trips?cursor={bad}", "demo-traveler")
    assert resp.status_code == 422 and resp.get_json()["code"] == "invalid_cursor"


def test_a_second_root_unit_stays_outside_the_city_roots_scope(app, api, trips, demo):
    """An admin may make another root unit: the city's supervisor does not see its trips."""
    from app.accounts.models import Unit, UnitLevel

    with app.app_context():
        other = Unit(name="另一城市", level=UnitLevel.CITY, region_code="320500")
        db.session.add(other)
        db.session.flush()
        other.path = f"/{other.id}/"
        outside = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler-2"],
                                 unit_id=other.id).id
        db.session.commit()
        db.session.remove()
    everything = trips["drc"] + trips["wujin"] + [trips["moved"]]
    assert _all(api, "demo-supervisor") == sorted(everything, reverse=True)
    assert outside in _all(api, "demo-traveler-2")
