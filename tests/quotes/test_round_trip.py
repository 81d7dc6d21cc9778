"""The route estimate is the whole trip: out and back unless ``one_way`` (issue 14 part 6).

Over real HTTP: the quote asks the Gaode sandbox for the road distance (GCJ-02, the origin
again as destination), the fleet and rental prices and the approval amount rule follow it,
and the straight lines stand in when the routing API faults."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests

from app import clock, db, supply
from app.quotes.route import full_estimate
from app.trips.models import Trip
from providers.geo import wgs84_to_gcj02
from tests import factories

TO_NANJING = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
              {"name": "江苏省政府", "lat": 32.06, "lng": 118.78}]
# Both ends inside Changzhou's bounds: an in-city trip to the far south of Liyang.
TO_LIYANG = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
             {"name": "溧阳天目湖", "lat": 31.22, "lng": 119.21}]


@pytest.fixture
def route_sandbox(sandboxes):
    url = sandboxes["route"].url
    requests.delete(f"{url}/__sandbox/requests", timeout=2)
    yield url
    requests.delete(f"{url}/__sandbox/faults", timeout=2)


def next_workday_morning() -> datetime:
    """09:00 Beijing time on the next Tuesday to Thursday at least a day ahead."""
    day = clock.local(clock.now()).date() + timedelta(days=2)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, tzinfo=clock.SHANGHAI)


def quoted(api, **body) -> tuple[int, dict]:
    trip_id = factories.new_trip(api, **body)
    quote = factories.ok(api.post(f"/trips/{trip_id}/quotes", "demo-traveler"))
    return trip_id, quote


def offer_of(quote: dict, provider: str, vehicle_class: str) -> dict:
    return next(o for o in quote["offers"]
                if o["provider"] == provider and o["vehicle_class"] == vehicle_class)


def mileage_km(offer: dict) -> Decimal:
    line = next(x for x in offer["breakdown"] if x["kind"] == "mileage")
    return Decimal(re.search(r"里程 ([\d.]+) 公里", line["description"]).group(1))


def test_a_day_trip_to_nanjing_is_quoted_out_and_back(api, route_sandbox):
    trip_id, round_trip = quoted(api, stops=TO_NANJING, hours=10)
    _, one_way = quoted(api, stops=TO_NANJING, hours=10, one_way=True)

    trip = api.get(f"/trips/{trip_id}", "demo-traveler").get_json()
    assert trip["one_way"] is False and trip["cross_region"] is True
    km, single = Decimal(round_trip["est_distance_km"]), Decimal(one_way["est_distance_km"])
    assert Decimal("270") < km < Decimal("320")  # the car drives about 300 km, not 148.8
    assert abs(km - 2 * single) <= Decimal("0.2")
    assert trip["est_distance_km"] == round_trip["est_distance_km"]

    # The road distance came from the routing API, asked in GCJ-02 and back to the origin.
    asked = requests.get(f"{route_sandbox}/__sandbox/requests", timeout=2).json()["requests"]
    lat, lng = wgs84_to_gcj02(31.81, 119.97)
    assert asked[0]["destination"] == asked[0]["origin"] == f"{lng:.6f},{lat:.6f}"
    assert "destination" in asked[1] and asked[1]["destination"] != asked[1]["origin"]

    # The fleet's cross-region mileage doubles, and with it most of the price.
    fleet, fleet_single = offer_of(round_trip, "fleet", "sedan"), offer_of(one_way, "fleet", "sedan")
    assert mileage_km(fleet) == km and mileage_km(fleet_single) == single
    assert Decimal(fleet["price"]) > Decimal("1.5") * Decimal(fleet_single["price"])
    rental, rental_single = (offer_of(round_trip, "rental-a", "sedan"),
                             offer_of(one_way, "rental-a", "sedan"))
    assert Decimal(rental["price"]) > Decimal("1.8") * Decimal(rental_single["price"])


def test_one_way_is_stored_and_read_back(api):
    trip_id = factories.new_trip(api, stops=TO_NANJING, one_way=True)
    assert api.get(f"/trips/{trip_id}", "demo-traveler").get_json()["one_way"] is True
    listed = api.get("/trips?mine=true", "demo-traveler").get_json()["items"]
    assert next(t for t in listed if t["id"] == trip_id)["one_way"] is True
    bad = api.post("/trips", "demo-traveler", json=factories.trip_request(one_way="maybe"))
    assert bad.status_code == 422 and "one_way" in bad.get_json()["errors"], bad.get_json()


def test_openapi_documents_one_way(api):
    spec = api.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    body = next(s for name, s in schemas.items() if name.startswith("TripCreate"))
    assert body["properties"]["one_way"]["type"] == "boolean"
    assert body["properties"]["one_way"].get("default") is False
    assert schemas["Trip"]["properties"]["one_way"]["type"] == "boolean"


def test_full_estimate_is_the_one_answer_for_other_domains(app, api, route_sandbox):
    trip_id, quote = quoted(api, stops=TO_NANJING, hours=10)
    with app.app_context():
        trip = db.session.get(Trip, trip_id)
        estimate = full_estimate(trip)
        assert str(estimate.km) == quote["est_distance_km"] and estimate.source == "gaode"
        assert trip.route_points[-1] == trip.route_points[0]
        trip.one_way = True
        assert full_estimate(trip).km * 2 - estimate.km <= Decimal("0.2")
        db.session.rollback()


def test_straight_lines_when_the_routing_api_is_down(app, api, route_sandbox):
    requests.post(f"{route_sandbox}/__sandbox/faults", json={"fault": "5xx"},
                  timeout=2).raise_for_status()
    _, quote = quoted(api, stops=TO_NANJING, hours=10)
    with app.app_context():
        straight = supply.route_estimator().fallback.estimate(
            [(31.81, 119.97), (32.06, 118.78), (31.81, 119.97)])
    assert quote["est_distance_km"] == str(straight.km)  # out and back still
    assert {p["name"]: p["status"] for p in quote["providers"]}["fleet"] == "ok"


def test_the_approval_amount_rule_sees_the_full_route(api, route_sandbox):
    """In-city, six people, a rental MPV to Liyang and back: the one-way estimate stays under
    1,000 yuan, the round trip does not, and only the round trip needs the platform step."""
    depart = next_workday_morning()
    steps = {}
    for one_way in (False, True):
        trip_id, quote = quoted(api, stops=TO_LIYANG, hours=9, passengers=6, one_way=one_way,
                                depart_at=depart)
        offer = offer_of(quote, "rental-a", "mpv")
        assert offer["compliant"], offer["reasons"]
        factories.ok(api.post(f"/trips/{trip_id}/submit", "demo-traveler",
                              json={"offer_id": offer["id"]}))
        approval = api.get(f"/trips/{trip_id}/approval", "demo-traveler").get_json()
        steps[one_way] = (Decimal(offer["price"]), [(s["key"], s["reasons"])
                                                    for s in approval["steps"]])
    (price, routed), (single_price, single_routed) = steps[False], steps[True]
    assert single_price < Decimal("1000") <= price
    assert routed == [("unit", ["always"]), ("platform", ["estimate_at_least:1000.00"])]
    assert single_routed == [("unit", ["always"])]


def test_gaode_outside_sandbox_mode_needs_a_real_key(monkeypatch):
    from app.config import SANDBOX_ROUTE_KEY, Config

    for name in [n for n in os.environ if n.startswith("OTB_")]:
        monkeypatch.delenv(name)
    straight = Config.from_mapping({})
    assert straight.ROUTE_PROVIDER == "straight_line"
    assert not [p for p in straight.insecure_settings() if "ROUTE" in p]
    for key in ("", SANDBOX_ROUTE_KEY):
        cfg = Config.from_mapping({"ROUTE_PROVIDER": "gaode", "ROUTE_KEY": key})
        assert [p for p in cfg.insecure_settings() if "OTB_ROUTE_KEY" in p]
    real = Config.from_mapping({"ROUTE_PROVIDER": "gaode", "ROUTE_KEY": "a-real-gaode-key"})
    assert not [p for p in real.insecure_settings() if "ROUTE" in p]
