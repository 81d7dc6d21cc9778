"""POST/GET /trips/{id}/quotes against the running sandboxes: all three channels, ranking,
policy, partial results when one provider is slow, hanging, failing, malformed or badly signed."""
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from threading import Barrier

import pytest
import requests

from app import clock
from tests import factories


def new_trip(api, passengers=2, depart_in=timedelta(days=1), **body) -> int:
    """A trip for two, departing tomorrow unless ``depart_in`` says otherwise."""
    return factories.new_trip(api, passengers=passengers, depart_at=clock.now() + depart_in,
                              **body)


def quote(api, trip_id, as_="demo-traveler"):
    return api.post(f"/trips/{trip_id}/quotes", as_)


def statuses(body):
    return {p["name"]: p["status"] for p in body["providers"]}


@pytest.fixture
def faults(sandboxes):
    """Set a fault on one sandbox; every rule is cleared after the test."""
    def set_fault(name, **rule):
        requests.post(f"{sandboxes[name].url}/__sandbox/faults", json=rule,
                      timeout=2).raise_for_status()

    yield set_fault
    for name in ("ridehail", "rental-a", "rental-b"):
        requests.delete(f"{sandboxes[name].url}/__sandbox/faults", timeout=2)


@pytest.fixture
def short_deadline(app):
    before = app.config["QUOTE_DEADLINE_SECONDS"]
    app.config["QUOTE_DEADLINE_SECONDS"] = 0.6
    yield 0.6
    app.config["QUOTE_DEADLINE_SECONDS"] = before


def test_in_city_trip_gets_offers_from_all_three_channels(api):
    trip_id = new_trip(api)
    resp = quote(api, trip_id)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert statuses(body) == {"fleet": "ok", "ridehail": "ok", "rental-a": "ok", "rental-b": "ok"}
    assert {o["channel"] for o in body["offers"]} == {"fleet", "rental", "ridehail"}
    assert all(isinstance(p["latency_ms"], int) for p in body["providers"])
    offer = body["offers"][0]
    assert set(offer) >= {"id", "channel", "provider", "product", "vehicle_class", "seats", "nev",
                          "price", "breakdown", "expires_at", "compliant", "reasons",
                          "recommended"}
    assert isinstance(offer["price"], str) and offer["price"].count(".") == 1
    assert Decimal(offer["price"]) == sum(Decimal(x["amount"]) for x in offer["breakdown"])
    assert datetime.fromisoformat(offer["expires_at"]).tzinfo is not None
    trip = api.get(f"/trips/{trip_id}", "demo-traveler").get_json()
    assert trip["state"] == "quoted" and Decimal(trip["est_distance_km"]) > 10
    assert body["est_distance_km"] == trip["est_distance_km"]


def test_ranking_and_policy(api):
    body = quote(api, new_trip(api)).get_json()
    offers = body["offers"]
    assert [o["recommended"] for o in offers].count(True) == 1 and offers[0]["recommended"]
    compliant = [o["compliant"] for o in offers]
    assert compliant == sorted(compliant, reverse=True)  # compliant ones first
    prices = [Decimal(o["price"]) for o in offers if o["compliant"]]
    assert prices == sorted(prices)
    luxury = next(o for o in offers if o["product"].endswith("豪华型"))
    assert not luxury["compliant"] and "经济型" in luxury["reasons"][0]
    economy = next(o for o in offers if o["product"].endswith("经济型"))
    assert economy["compliant"] and economy["reasons"] == []
    # two companies, same agreement, different prices, both under the ceiling (3 h, ~16 km)
    rentals = {o["provider"]: (Decimal(o["price"]), o["compliant"])
               for o in offers if o["channel"] == "rental"}
    # ceiling: half a day, 250.00 × 0.85 = 212.50
    assert rentals == {"rental-a": (Decimal("200.00"), True), "rental-b": (Decimal("210.00"), True)}
    assert {o["rank"] for o in offers} == set(range(1, len(offers) + 1))


def test_fleet_price_follows_the_paid_use_tariff(api):
    body = quote(api, new_trip(api, hours=3)).get_json()
    fleet = next(o for o in body["offers"] if o["channel"] == "fleet")
    assert (fleet["vehicle_class"], fleet["price"], fleet["nev"]) == ("sedan", "60.00", True)


def test_rental_inside_two_hours_is_not_compliant(api):
    body = quote(api, new_trip(api, depart_in=timedelta(minutes=90))).get_json()
    rentals = [o for o in body["offers"] if o["channel"] == "rental"]
    assert rentals and all("提前2小时" in o["reasons"][0] for o in rentals)


def test_large_group_gets_big_classes_and_no_ride_hailing(api):
    body = quote(api, new_trip(api, passengers=12)).get_json()
    assert statuses(body)["ridehail"] == "not_applicable"
    assert {o["vehicle_class"] for o in body["offers"]} == {"minibus"}


@pytest.mark.parametrize("rule, status", [
    ({"fault": "hang"}, "timeout"),
    ({"latency_ms": 1500}, "timeout"),
    ({"fault": "5xx"}, "error"),
    ({"fault": "malformed"}, "error"),
    ({"fault": "bad_signature"}, "error"),
])
@pytest.mark.parametrize("broken", ["ridehail", "rental-a"])
def test_one_broken_provider_never_blocks_the_others(api, faults, short_deadline, broken, rule,
                                                     status):
    faults(broken, path="/", **rule)
    resp = quote(api, new_trip(api))
    assert resp.status_code == 200
    body = resp.get_json()
    expected = {"fleet": "ok", "ridehail": "ok", "rental-a": "ok", "rental-b": "ok", broken: status}
    assert statuses(body) == expected
    assert broken not in {o["provider"] for o in body["offers"]}
    assert {"fleet", "rental-b"} <= {o["provider"] for o in body["offers"]}
    broken_status = next(p for p in body["providers"] if p["name"] == broken)
    assert broken_status["message"]
    if status == "timeout":
        assert broken_status["latency_ms"] >= 600


def test_requote_makes_a_new_round_and_get_returns_the_latest(api):
    trip_id = new_trip(api)
    first = quote(api, trip_id).get_json()
    second = quote(api, trip_id).get_json()
    assert (first["round"], second["round"]) == (1, 2)
    assert {o["id"] for o in first["offers"]}.isdisjoint(o["id"] for o in second["offers"])
    latest = api.get(f"/trips/{trip_id}/quotes", "demo-traveler").get_json()
    assert latest["round"] == 2 and [o["id"] for o in latest["offers"]] == \
        [o["id"] for o in second["offers"]]
    assert statuses(latest) == statuses(second)


def test_stored_offers_carry_what_booking_needs(api, app, session):
    from app.quotes.service import provider_offer
    from app.trips.models import Offer

    trip_id = new_trip(api)
    quote(api, trip_id)
    rows = session.query(Offer).filter_by(trip_id=trip_id).all()
    ride = next(r for r in rows if r.channel.value == "ridehail")
    assert ride.extra["estimate_id"] and ride.extra["tier"]
    assert next(r for r in rows if r.channel.value == "rental").extra["quote_id"]
    assert provider_offer(ride).price == ride.price
    assert all(r.expires_at > clock.now() for r in rows)


def test_only_the_applicant_may_quote(api):
    trip_id = new_trip(api)
    assert quote(api, trip_id, as_="demo-traveler-2").status_code == 404
    assert quote(api, trip_id, as_="demo-approver").status_code == 404
    assert api.post(f"/trips/{trip_id}/quotes", as_="demo-dispatcher").status_code == 403
    assert api.get(f"/trips/{trip_id}/quotes", "demo-traveler").status_code == 404  # not quoted


def test_quoting_a_submitted_trip_is_refused(api, session):
    from app.trips.models import Trip, TripState

    trip_id = new_trip(api)
    quote(api, trip_id)
    trip = session.get(Trip, trip_id)
    trip.transition(session, TripState.PENDING_APPROVAL, actor_id=None)
    session.commit()
    resp = quote(api, trip_id)
    assert resp.status_code == 409 and resp.get_json()["code"] == "illegal_transition"


def test_quotes_over_a_real_server_with_idempotency(api, live_server):
    token = api.login("demo-traveler")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "quote-once-1"}
    trip_id = new_trip(api)
    url = f"{live_server}/api/v1/trips/{trip_id}/quotes"
    first = requests.post(url, json={}, headers=headers, timeout=10)
    again = requests.post(url, json={}, headers=headers, timeout=10)
    assert first.status_code == 200 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed")


def test_disabled_provider_is_not_asked(app, api):
    from app import supply

    providers = supply.providers(app)
    supply.replace_providers({k: v for k, v in providers.items() if k != "rental-b"}, app)
    try:
        body = quote(api, new_trip(api)).get_json()
    finally:
        supply.replace_providers(providers, app)
    assert "rental-b" not in statuses(body)


def test_a_round_stored_meanwhile_is_409_and_a_retry_quotes(api):
    """A re-quote that lost to a concurrent one (the same round number stored first): a 409
    with a Chinese message and nothing half-kept; the retry stores the next round."""
    from app.quotes.models import QuoteRound

    trip_id = new_trip(api)
    assert quote(api, trip_id).get_json()["round"] == 1
    with factories.inserted_meanwhile(QuoteRound):
        lost = quote(api, trip_id)
    assert lost.status_code == 409 and lost.get_json()["code"] == "conflict"
    assert lost.get_json()["message"] == "操作与其他请求冲突，请刷新后重试"
    assert api.get(f"/trips/{trip_id}/quotes", "demo-traveler").get_json()["round"] == 1
    assert quote(api, trip_id).get_json()["round"] == 2


def test_racing_requotes_answer_200_or_409(api, live_server):
    """Concurrent re-quotes of one trip (PostgreSQL lets them overlap): each answers 200 or
    a 409 with a Chinese message, and the stored rounds are numbered without a gap."""
    racers = 6
    token = api.login("demo-traveler")
    trip_id = new_trip(api)
    url = f"{live_server}/api/v1/trips/{trip_id}/quotes"
    start = Barrier(racers)

    def requote(_):
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.post(url, json={}, headers={"Authorization": f"Bearer {token}"},
                             timeout=60)

    with ThreadPoolExecutor(max_workers=racers) as pool:
        responses = list(pool.map(requote, range(racers)))

    assert {r.status_code for r in responses} <= {200, 409}, [r.text[:200] for r in responses]
    assert all(re.search(r"[\u4e00-\u9fff]", r.json()["message"])
               for r in responses if r.status_code == 409)
    rounds = sorted(r.json()["round"] for r in responses if r.status_code == 200)
    assert rounds == list(range(1, len(rounds) + 1))
    latest = api.get(f"/trips/{trip_id}/quotes", "demo-traveler").get_json()
    assert latest["round"] == rounds[-1]
