"""What the finance console needs: lines with the facts of their trips, the whole period as
one workbook over the API (scoped), and the kept history of reconciliation uploads."""
import io
from datetime import datetime
from decimal import Decimal
from urllib.parse import unquote

import openpyxl

from app import clock
from app.settlements.export import SUMMARY_SHEET
from tests.settlements.test_settlement_exports import drc_fleet, statements, upload  # noqa: F401
from tests.settlements.test_settlements import month  # noqa: F401

SH = clock.SHANGHAI


def test_lines_carry_date_route_applicant_and_the_fleet_run(api, app, demo, statements):  # noqa: F811
    from app import db
    from app.accounts.models import Driver, Vehicle
    from app.dispatch.models import Assignment, ReleaseReason, TripRun
    from app.trips.models import Trip
    from sqlalchemy import select

    statement = drc_fleet(statements)
    lines = api.get(f"/settlements/{statement['id']}/lines", as_="demo-finance").get_json()["items"]
    first = lines[-1]  # oldest: the trip of 10 October 09:00
    with app.app_context():
        trip = db.session.get(Trip, first["trip_id"])
        vehicle = db.session.scalars(select(Vehicle).order_by(Vehicle.id)).first()
        driver = db.session.scalars(select(Driver).order_by(Driver.id)).first()
        a = Assignment.for_window(trip, vehicle_id=vehicle.id, driver_id=driver.id)
        a.release(ReleaseReason.FINISHED, actor_id=None, at=trip.return_at)
        db.session.add(a)
        db.session.flush()
        db.session.add(TripRun(trip_id=trip.id, assignment_id=a.id, vehicle_id=vehicle.id,
                               driver_id=driver.id, started_at=trip.depart_at,
                               start_odometer_km=Decimal(100), finished_at=trip.return_at,
                               end_odometer_km=Decimal("142.5"), km=Decimal("42.5")))
        plate, driver_name = vehicle.plate, driver.name
        db.session.commit()
        db.session.remove()

    lines = api.get(f"/settlements/{statement['id']}/lines", as_="demo-finance").get_json()["items"]
    facts = {line["trip_id"]: line["trip"] for line in lines}
    ran = facts[first["trip_id"]]
    assert ran["date"] == "2026-10-10"
    assert ran["depart_at"] == "2026-10-10T09:00:00+08:00"
    assert ran["route"] == "市民广场 → 武进区政府"
    assert ran["applicant_name"] == "张明" and ran["applicant_phone"] == "13800000001"
    assert ran["plate"] == plate and ran["km"] == "42.5" and ran["driver_name"] == driver_name
    # A line whose trip has no run yet still has its date, route and applicant.
    other = next(f for t, f in facts.items() if t != first["trip_id"])
    assert other["plate"] is None and other["km"] is None and other["route"]


def test_the_whole_period_downloads_as_one_workbook(api, statements):  # noqa: F811
    resp = api.get("/settlements/export?period=2026-10&format=xlsx", as_="demo-finance")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    encoded = resp.headers["Content-Disposition"].split("filename*=UTF-8''")[1]
    assert unquote(encoded) == "结算单-2026-10.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == [SUMMARY_SHEET, "fleet", "rental-a"]
    summary = list(book[SUMMARY_SHEET].iter_rows(min_row=2, values_only=True))
    total = sum(Decimal(s["total"]) for s in statements.values())
    assert summary[-1][:2] == ("合计", 5)
    assert sum(Decimal(str(row[2])) for row in summary[:-1]) == total == Decimal("1360.50")

    csv_resp = api.get("/settlements/export?period=2026-10&format=csv&supplier=rental-a",
                       as_="demo-finance")
    rows = csv_resp.data.decode("utf-8-sig").strip().splitlines()
    assert len(rows) == 2 and "rental-a" in rows[1]


def test_the_period_workbook_is_scoped_and_validated(api, demo, statements):  # noqa: F811
    resp = api.post("/admin/users", as_="demo-admin", json={
        "name": "武进财务", "phone": "13700000009", "unit_id": demo["units"]["武进区"],
        "roles": ["finance"]})
    assert resp.status_code == 201
    api.bind("wujin-finance", "13700000009")
    own = api.get("/settlements/export?period=2026-10&format=csv", as_="wujin-finance")
    assert own.status_code == 200
    body = own.data.decode("utf-8-sig")
    assert "武进区市场监督管理局" in body and "常州市发展和改革委员会" not in body
    assert api.get("/settlements/export?period=2026-09", as_="demo-finance").status_code == 404
    assert api.get("/settlements/export?period=2026-10", as_="demo-traveler").status_code == 403
    missing = api.get("/settlements/export", as_="demo-finance")
    assert missing.status_code == 422 and "period" in missing.get_json()["errors"]


def test_reconciliation_uploads_are_kept_with_their_outcome(api, statements):  # noqa: F811
    first = upload(api, "订单号,金额\nnot-ours-1,10.00\n")
    assert first.status_code == 200
    assert first.get_json()["missing_on_our_side"] == [{"order_id": "not-ours-1",
                                                        "amount": "10.00"}]
    second = upload(api, "订单号,金额\n", provider="rental-a")
    assert second.status_code == 200
    history = api.get("/reconciliations", as_="demo-finance").get_json()["items"]
    assert [h["id"] for h in history] == [second.get_json()["run_id"], first.get_json()["run_id"]]
    newest, oldest = history
    assert newest["supplier"] == "rental-a" and newest["problems"] == 1  # ours is missing
    assert oldest["filename"] == "statement.csv" and oldest["period"] == "2026-10"
    assert oldest["problems"] == 5 and oldest["matched"] == 0  # our 4 fleet lines + theirs
    assert oldest["result"]["missing_on_our_side"][0]["order_id"] == "not-ours-1"
    only = api.get("/reconciliations?supplier=rental-a", as_="demo-finance").get_json()["items"]
    assert [h["supplier"] for h in only] == ["rental-a"]
    # A malformed file is refused and not kept.
    assert upload(api, "no,header\n").status_code == 422
    assert len(api.get("/reconciliations", as_="demo-finance").get_json()["items"]) == 2
    assert api.get("/reconciliations", as_="demo-traveler").status_code == 403


def test_held_charges_are_listed_for_the_over_ceiling_decision(api, app, demo):
    from app import db
    from tests import factories

    with app.app_context():
        trip = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler"],
                              unit_id=demo["units"]["常州市发展和改革委员会"], state="completed",
                              depart_at=datetime(2026, 10, 12, 9, tzinfo=SH))
        factories.charge(db.session, trip=trip, total="980.00", supplier="rental-a",
                         channel="rental", held=True, final=False)
        other = factories.trip(db.session, applicant_id=demo["users"]["demo-traveler"],
                               unit_id=demo["units"]["常州市发展和改革委员会"], state="completed")
        factories.charge(db.session, trip=other, total="80.00")
        trip_id = trip.id
        db.session.commit()
        db.session.remove()
    held = api.get("/billing/held-charges", as_="demo-finance").get_json()["items"]
    assert [(c["trip_id"], c["total"], c["held"]) for c in held] == [(trip_id, "980.00", True)]
    assert api.get("/billing/held-charges", as_="demo-traveler").status_code == 403
