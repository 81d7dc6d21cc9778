"""Billing over the API: preview of every SPEC §5 worked example, tariffs as data, charges
of real trips (fleet via the driver endpoints, provider bills via the hook)."""
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.audit import AuditEntry
from app.billing.models import Charge
from app.billing.tariff import DEFAULT_FLEET_TARIFF, DEFAULT_RENTAL_AGREEMENT
from app.trips import events
from app.trips.models import Channel, Trip, TripState
from providers.base import Bill, FeeLine, Order
from tests import factories
from tests.dispatch.conftest import T0
from tests.factories import ok

D = "2026-10-12"


def body(channel, cls, start, end, km="0", cross=False, waiting=0, tolls="0.00",
         parking="0.00", lodging="0.00"):
    return {"channel": channel, "vehicle_class": cls, "cross_region": cross,
            "started_at": f"{D}T{start}:00+08:00", "finished_at": f"{D}T{end}:00+08:00",
            "odometer_km": km, "waiting_minutes": waiting, "tolls": tolls, "parking": parking,
            "lodging": lodging}


WORKED_EXAMPLES = [
    pytest.param(body("fleet", "sedan", "09:00", "12:10", parking="10.00"),
                 ["60.00", "10.00"], "70.00", id="5.1 sedan in-city 09:00-12:10 parking 10"),
    pytest.param(body("fleet", "mpv", "08:00", "18:30"), ["200.00", "90.00"], "290.00",
                 id="5.1 mpv in-city 08:00-18:30"),
    pytest.param(body("fleet", "sedan", "07:30", "19:00", km="250", cross=True, waiting=75,
                      tolls="85.50"), ["330.00", "100.00", "85.50"], "515.50",
                 id="5.1 sedan cross-region 250 km waiting 75 tolls 85.50"),
    pytest.param(body("fleet", "sedan", "08:00", "17:00", km="40", cross=True),
                 ["66.00", "100.00"], "166.00", id="5.1 sedan cross-region 40 km"),
    pytest.param(body("rental", "sedan", "08:00", "18:00", km="80"), ["425.00"], "425.00",
                 id="5.2 sedan 1 day 80 km"),
    pytest.param(body("rental", "mpv", "08:00", "18:00", km="180"), ["902.70"], "902.70",
                 id="5.2 mpv 1 day 180 km"),
    pytest.param(body("rental", "sedan", "09:00", "12:00", km="40"), ["212.50"], "212.50",
                 id="5.2 sedan 3 h 40 km"),
]


@pytest.mark.parametrize("payload, amounts, total", WORKED_EXAMPLES)
@pytest.mark.parametrize("who", ["demo-finance", "demo-admin"])
def test_preview_worked_examples_to_the_cent(api, who, payload, amounts, total):
    out = ok(api.post("/billing/preview", as_=who, json=payload))
    assert [line["amount"] for line in out["lines"]] == amounts
    assert out["total"] == total
    assert all(line["kind"] and line["description"] for line in out["lines"])


def test_traveler_cannot_preview(api):
    resp = api.post("/billing/preview", as_="demo-traveler",
                    json=body("fleet", "sedan", "09:00", "10:00"))
    assert resp.status_code == 403


@pytest.mark.parametrize("change, field", [
    ({"vehicle_class": "truck"}, "vehicle_class"),
    ({"channel": "ridehail"}, "channel"),
    ({"tolls": 12.5}, "tolls"),
    ({"tolls": "-1.00"}, "tolls"),
    ({"waiting_minutes": -5}, "waiting_minutes"),
    ({"started_at": "2026-10-12T09:00:00"}, "started_at"),
    ({"finished_at": "2026-10-12T08:00:00+08:00"}, "finished_at"),
    ({"odometer_km": "abc"}, "odometer_km"),
])
def test_preview_bad_input_is_422_with_chinese_field_errors(api, change, field):
    resp = api.post("/billing/preview", as_="demo-finance",
                    json={**body("fleet", "sedan", "09:00", "10:00"), **change})
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert field in errors, errors
    message = " ".join(errors[field])
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_preview_missing_fields_are_named(api):
    resp = api.post("/billing/preview", as_="demo-finance", json={"channel": "fleet"})
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert errors["vehicle_class"] == ["必填"] and errors["started_at"] == ["必填"]


# --- tariffs as data ------------------------------------------------------------------------

def dearer_fleet(effective_from: str, four_hours: str = "80.00") -> dict:
    data = DEFAULT_FLEET_TARIFF.to_dict()
    data["classes"]["sedan"]["time_blocks"][1]["price"] = four_hours   # ≤4 h: 60 by default
    return {**data, "kind": "fleet", "effective_from": effective_from}


def test_admin_publishes_a_version_that_prices_trips_starting_from_then(api, frozen_clock,
                                                                         in_db):
    frozen_clock(T0)
    created = api.post("/admin/tariffs", as_="demo-admin", json=dearer_fleet("2026-12-10"))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["in_force"] is False
    before = body("fleet", "sedan", "09:00", "12:10", parking="10.00")
    before.update(started_at="2026-12-09T23:00:00+08:00", finished_at="2026-12-10T02:10:00+08:00")
    after = {**before, "started_at": "2026-12-10T09:00:00+08:00",
             "finished_at": "2026-12-10T12:10:00+08:00"}
    # the version in force on the (Asia/Shanghai) day the trip started
    assert ok(api.post("/billing/preview", as_="demo-finance", json=before))["total"] == "70.00"
    assert ok(api.post("/billing/preview", as_="demo-finance", json=after))["total"] == "90.00"
    listing = ok(api.get("/admin/tariffs?kind=fleet", as_="demo-admin"))["items"]
    assert [(t["id"] is None, t["effective_from"]) for t in listing] == [
        (False, "2026-12-10"), (True, "2000-01-01")]
    assert listing[1]["in_force"] is True
    with in_db() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.entity == "tariff_versions")) is not None


def test_versions_are_immutable_and_validated_in_chinese(api, frozen_clock):
    frozen_clock(T0)
    assert api.post("/admin/tariffs", as_="demo-admin",
                    json=dearer_fleet("2026-12-10")).status_code == 201
    again = api.post("/admin/tariffs", as_="demo-admin", json=dearer_fleet("2026-12-10"))
    assert again.status_code == 409
    past = api.post("/admin/tariffs", as_="demo-admin", json=dearer_fleet("2026-11-01"))
    assert past.status_code == 422
    broken = dearer_fleet("2026-12-20")
    del broken["classes"]["bus"]
    resp = api.post("/admin/tariffs", as_="demo-admin", json=broken)
    assert resp.status_code == 422 and "车型" in resp.get_json()["message"]
    rental = {**DEFAULT_RENTAL_AGREEMENT.to_dict(), "kind": "rental",
              "effective_from": "2026-12-20", "discount": "1.5"}
    resp = api.post("/admin/tariffs", as_="demo-admin", json=rental)
    assert resp.status_code == 422 and "discount" in resp.get_json()["message"]
    assert api.post("/admin/tariffs", as_="demo-admin",
                    json={"kind": "taxi", "effective_from": "2026-12-20"}).status_code == 422


def test_only_admins_manage_tariffs(api):
    assert api.get("/admin/tariffs", as_="demo-finance").status_code == 403
    assert api.post("/admin/tariffs", as_="demo-traveler",
                    json=dearer_fleet("2027-01-01")).status_code == 403


# --- charges of real trips ------------------------------------------------------------------

def test_fleet_trip_finished_by_the_driver_is_charged_then_final_on_confirmation(
        api, make_trip, drive, in_db):
    trip_id = make_trip(estimate=Decimal("60.00"))
    assert api.get(f"/trips/{trip_id}/charge", as_="demo-traveler").status_code == 404
    drive(trip_id)   # 3 h, 42 km, tolls 15, parking 10, in-city sedan
    charge = ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))
    assert charge["trip_id"] == trip_id
    assert [(l["kind"], l["amount"]) for l in charge["lines"]] == [
        ("time_block", "60.00"), ("toll", "15.00"), ("parking", "10.00")]
    assert charge["total"] == "85.00" and charge["final"] is False
    assert charge["estimate"] == "60.00"
    assert charge["market_reference"] == "250.00"    # half a sedan day, undiscounted
    assert charge["savings"] == "165.00"
    assert charge["flags"] == []
    with in_db() as s:
        row = s.scalar(select(Charge).where(Charge.trip_id == trip_id))
        assert (row.supplier, row.order_id) == ("fleet", f"FLEET-{trip_id}")
    ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    assert ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))["final"] is True
    # scope: another unit's traveler sees nothing; finance at the root sees it
    assert api.get(f"/trips/{trip_id}/charge", as_="demo-traveler-2").status_code == 404
    assert api.get(f"/trips/{trip_id}/charge", as_="demo-finance").status_code == 200


def test_fleet_trip_is_priced_by_the_version_in_force_when_it_started(api, make_trip, drive,
                                                                       in_db, travel):
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    ok(api.post("/admin/tariffs", as_="demo-admin", json=dearer_fleet("2026-12-01")), 201)
    ok(api.post("/admin/tariffs", as_="demo-admin", json=dearer_fleet("2026-12-02", "99.00")), 201)
    drive(trip_id)   # starts 1 December 09:00 and finishes that day, after the second one is out
    assert ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))["lines"][0]["amount"] \
        == "80.00"


def test_auto_confirmation_marks_the_charge(api, make_trip, drive, in_db, travel):
    from app import clock
    from app.dispatch import passenger as dispatch

    trip_id = make_trip()
    drive(trip_id)
    with in_db() as s:
        dispatch.auto_confirm_due(s, clock.now() + timedelta(days=4))
    with in_db() as s:
        row = s.scalar(select(Charge).where(Charge.trip_id == trip_id))
        assert row.final and row.auto_confirmed and "auto_confirmed" in row.flags


def _provider_bill(in_db, trip_id, lines, *, provider, order_id, extra=None):
    bill = Bill(tuple(FeeLine(k, d, Decimal(a)) for k, d, a in lines))
    order = Order(provider=provider, order_id=order_id, out_order_id=f"T{trip_id}",
                  state="completed", bill=bill, extra=extra or {})
    with in_db() as s:
        events.publish(s, events.PROVIDER_BILL, trip=s.get(Trip, trip_id), bill=bill, order=order)


@pytest.mark.parametrize("final, flagged", [("120.00", False), ("120.01", True)])
def test_ridehail_bill_is_the_charge_with_the_estimate_beside_it(api, make_trip, in_db, final,
                                                                  flagged):
    trip_id = make_trip(state=TripState.COMPLETED, channel=Channel.RIDEHAIL,
                        estimate=Decimal("100.00"))
    base = Decimal(final) - Decimal("8.00")
    _provider_bill(in_db, trip_id, [("base", "起步价及里程费", str(base)),
                                    ("toll", "高速费", "8.00")],
                   provider="sandbox-ride", order_id="RH-778")
    charge = ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))
    assert charge["total"] == final and charge["estimate"] == "100.00"
    assert [l["kind"] for l in charge["lines"]] == ["base", "toll"]
    assert charge["flags"] == (["over_estimate"] if flagged else [])
    with in_db() as s:
        row = s.scalar(select(Charge).where(Charge.trip_id == trip_id))
        assert (row.supplier, row.order_id, row.held) == ("sandbox-ride", "RH-778", False)


@pytest.mark.parametrize("amount, over", [("425.00", False), ("425.01", True)])
def test_rental_bill_above_our_ceiling_is_flagged_and_held(api, make_trip, in_db, frozen_clock,
                                                            amount, over):
    start = datetime(2026, 12, 2, 8, 0, tzinfo=T0.tzinfo)
    trip_id = make_trip(state=TripState.COMPLETED, channel=Channel.RENTAL, depart_at=start,
                        hours=10, est_distance_km=Decimal("80"))
    _provider_bill(in_db, trip_id, [("rental", "轿车一日（含驾驶员）", amount)],
                   provider="sandbox-rental", order_id="RN-1",
                   extra={"occurred_at": (start + timedelta(hours=10)).isoformat(),
                          "actual_km": "80"})
    charge = ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))
    assert charge["total"] == amount
    assert charge["flags"] == (["over_ceiling"] if over else [])
    with in_db() as s:
        row = s.scalar(select(Charge).where(Charge.trip_id == trip_id))
        assert row.held is over and row.supplier == "sandbox-rental"
        assert row.finished_at == start + timedelta(hours=10)


def test_fleet_quotes_are_priced_by_the_tariff_in_force(api):
    from app import clock

    today = clock.local_date(clock.now()).isoformat()
    ok(api.post("/admin/tariffs", as_="demo-admin", json=dearer_fleet(today)), 201)
    trip_id = factories.new_trip(api, passengers=2, hours=3)
    body = ok(api.post(f"/trips/{trip_id}/quotes", as_="demo-traveler"))
    fleet = next(o for o in body["offers"] if o["channel"] == "fleet")
    assert (fleet["vehicle_class"], fleet["price"]) == ("sedan", "80.00")


def _held_rental(api, make_trip, in_db, amount="500.00") -> int:
    """A confirmed rental trip whose company billed above our 425.00 ceiling."""
    start = datetime(2026, 12, 2, 8, 0, tzinfo=T0.tzinfo)
    trip_id = make_trip(state=TripState.COMPLETED, channel=Channel.RENTAL, depart_at=start,
                        hours=10, est_distance_km=Decimal("80"))
    _provider_bill(in_db, trip_id, [("rental", "轿车一日（含驾驶员）", amount)],
                   provider="sandbox-rental", order_id=f"RN-{trip_id}",
                   extra={"occurred_at": (start + timedelta(hours=10)).isoformat(),
                          "actual_km": "80"})
    return trip_id


def _statement_of(api, period, supplier="sandbox-rental"):
    (item,) = ok(api.get(f"/settlements?period={period}&supplier={supplier}",
                         as_="demo-finance"))["items"]
    lines = ok(api.get(f"/settlements/{item['id']}/lines", as_="demo-finance"))["items"]
    return item, lines


def test_finance_caps_a_held_bill_and_the_open_statement_follows(api, now, make_trip, in_db):
    trip_id = _held_rental(api, make_trip, in_db)
    url = f"/trips/{trip_id}/charge/release"
    cap = {"decision": "cap", "reason": "超出框架协议上限，按上限结算"}
    early = api.post(url, as_="demo-finance", json=cap)
    assert early.status_code == 409 and early.get_json()["code"] == "charge_not_final"
    ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    ok(api.post("/settlements", as_="demo-finance", json={"period": "2026-12"}))
    statement, (line,) = _statement_of(api, "2026-12")
    assert (statement["total"], line["amount"], line["disputed"]) == ("500.00", "500.00", True)

    assert api.post(url, as_="demo-traveler", json=cap).status_code == 403
    assert api.post(url, as_="demo-finance", json={"decision": "halve",
                                                   "reason": "x"}).status_code == 422
    charge = ok(api.post(url, as_="demo-finance", json=cap))
    assert (charge["total"], charge["ceiling"], charge["held"]) == ("425.00", "425.00", False)
    assert [(l["kind"], l["amount"]) for l in charge["lines"]] == [
        ("rental", "500.00"), ("ceiling_cap", "-75.00")]
    statement, (line,) = _statement_of(api, "2026-12")
    assert (statement["total"], line["amount"], line["disputed"]) == ("425.00", "425.00", False)
    again = api.post(url, as_="demo-finance", json=cap)
    assert again.status_code == 409 and again.get_json()["code"] == "not_held"
    with in_db() as s:
        actions = {a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.entity.in_(["charges", "settlements"])))}
    assert {"held:cap", "line_updated"} <= actions


def test_a_held_bill_keeps_its_statement_unconfirmed_until_decided(
        api, make_trip, in_db, drc_finance):
    """Issue 12 #8b: a statement holding a disputed line was confirmed (and the decision then
    came as an adjustment next month); now the decision comes first, on the open statement."""
    trip_id = _held_rental(api, make_trip, in_db)
    ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    ok(api.post("/settlements", as_="demo-finance", json={"period": "2026-12"}))
    statement, _ = _statement_of(api, "2026-12")
    ok(api.post(f"/settlements/{statement['id']}/issue", as_="demo-finance"))
    refused = api.post(f"/settlements/{statement['id']}/confirm", as_=drc_finance)
    assert refused.status_code == 409 and refused.get_json()["code"] == "disputed_lines"
    charge = ok(api.post(f"/trips/{trip_id}/charge/release", as_="demo-finance",
                         json={"decision": "cap", "reason": "按协议上限结算"}))
    assert charge["total"] == "425.00"
    statement, (line,) = _statement_of(api, "2026-12")   # still open: the line follows
    assert (statement["total"], line["amount"], line["disputed"]) == ("425.00", "425.00", False)
    assert ok(api.post(f"/settlements/{statement['id']}/confirm", as_=drc_finance))[
        "state"] == "confirmed"


def test_accepting_a_held_bill_pays_it_as_billed(api, now, make_trip, in_db):
    trip_id = _held_rental(api, make_trip, in_db)
    ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    charge = ok(api.post(f"/trips/{trip_id}/charge/release", as_="demo-finance",
                         json={"decision": "accept", "reason": "节假日加价，经核实同意"}))
    assert (charge["total"], charge["held"], charge["flags"]) == ("500.00", False,
                                                                  ["over_ceiling"])
    ok(api.post("/settlements", as_="demo-finance", json={"period": "2026-12"}))
    _, (line,) = _statement_of(api, "2026-12")
    assert (line["amount"], line["disputed"]) == ("500.00", False)
