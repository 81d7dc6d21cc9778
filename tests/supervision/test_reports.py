"""Reports (SPEC §6.2): figures that add up, scope, XLSX with numbers as numbers."""
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select, update

from app import clock
from app.accounts.models import Vehicle
from app.audit import AuditEntry
from app.billing.models import Charge
from app.trips.models import Trip, TripState
from tests import factories
from tests.factories import ok

LOCAL = clock.SHANGHAI


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL)


@pytest.fixture
def year_2026(in_db, frozen_clock, demo, fleet):
    """Every demo vehicle in service all 2026, the third sedan stationed at the traveler's
    unit since 1 July; the clock in January 2027 (the year is over)."""
    drc = demo["units"]["常州市发展和改革委员会"]
    stationed = fleet["sedans"][2]["id"]
    with in_db() as s:
        s.execute(update(Vehicle).values(created_at=local(2025, 6, 1)))
        s.execute(update(Vehicle).where(Vehicle.id == stationed).values(
            pooled=False, unit_id=drc, created_at=local(2026, 7, 1, 10)))
    frozen_clock(local(2027, 1, 10, 9))
    return {"stationed": stationed, "drc": drc}


def test_utilisation_per_vehicle_adds_up(api, year_2026, past_run, fleet):
    a, b, c = (v["id"] for v in fleet["sedans"][:3])
    driver = fleet["drivers"]["钱进"]
    runs = [(a, "3000", local(2026, 3, 2, 9)), (a, "2500.5", local(2026, 9, 1, 9)),
            (b, "1200", local(2026, 12, 31, 20)), (c, "800", local(2026, 8, 3, 9)),
            (a, "9999", local(2025, 12, 31, 20)), (b, "9999", local(2027, 1, 2, 9))]
    for vehicle, km, started in runs:
        past_run(vehicle, driver, km=km, started_at=started.astimezone(timezone.utc), hours=2)
    report = ok(api.get("/reports/utilisation?year=2026", "demo-supervisor"))
    rows = {r["vehicle_id"]: r for r in report["items"]}
    expected = {a: Decimal("5500.5"), b: Decimal("1200"), c: Decimal("800")}
    for vehicle, km in expected.items():
        assert Decimal(rows[vehicle]["km"]) == km
    assert rows[a]["below_threshold"] is False and rows[a]["threshold_km"] == "5000.0"
    assert rows[b]["below_threshold"] is True and rows[b]["recall_candidate"] is False
    assert rows[c] | {} == rows[c] and rows[c]["placement"] == "stationed"
    assert rows[c]["days_in_service"] == 184 and rows[c]["threshold_km"] == "2520.5"
    assert rows[c]["recall_candidate"] is True
    assert len(rows) == len(fleet["vehicles"])
    assert Decimal(report["totals"]["km"]) == sum(Decimal(r["km"]) for r in report["items"])
    assert report["totals"]["below_threshold"] == sum(r["below_threshold"] for r in report["items"])
    assert report["totals"]["recall_candidates"] == 1
    # the unit admin-less traveler's unit: only its own vehicle; a traveler may not read
    mine = ok(api.get(f"/reports/utilisation?year=2026&unit_id={year_2026['drc']}",
                      "demo-supervisor"))
    assert [r["vehicle_id"] for r in mine["items"]] == [c]
    assert api.get("/reports/utilisation?year=2026", "demo-traveler").status_code == 403
    assert api.get("/reports/utilisation?year=2026&colour=red", "demo-admin").status_code == 422


def test_utilisation_as_xlsx_has_numbers(api, year_2026, past_run, fleet):
    past_run(fleet["sedans"][0]["id"], fleet["drivers"]["钱进"], km="1234.5",
             started_at=local(2026, 5, 5, 9).astimezone(timezone.utc))
    resp = api.get("/reports/utilisation?year=2026&format=xlsx", "demo-finance")
    assert resp.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in sheet[1]]
    km_col = header.index("行驶里程(公里)")
    values = [row[km_col].value for row in sheet.iter_rows(min_row=2)]
    assert all(isinstance(v, (int, float)) for v in values)
    assert values[-1] == pytest.approx(sum(values[:-1])) == pytest.approx(1234.5)
    assert sheet.cell(row=len(values) + 1, column=1).value == "合计"


def test_recall_moves_a_stationed_vehicle_to_the_pool(api, year_2026, demo, in_db):
    path = f"/admin/vehicles/{year_2026['stationed']}/recall"
    assert api.post(path, "demo-supervisor", json={"reason": "x"}).status_code == 403
    assert api.post(path, "demo-admin", json={}).status_code == 422
    moved = ok(api.post(path, "demo-admin", json={"reason": "年行驶里程不足5000公里"}))
    assert moved["placement"] == "pooled" and moved["unit_id"] == demo["units"]["常州市"]
    assert api.post(path, "demo-admin", json={"reason": "again"}).status_code == 409
    with in_db() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "vehicles",
                                                   AuditEntry.action == "recalled")).one()
        assert entry.data == {"from_unit_id": year_2026["drc"], "to_unit_id": demo["units"]["常州市"],
                              "reason": "年行驶里程不足5000公里"}


def _charge(s, *, applicant: int, unit: int, total: str, at: datetime, channel="fleet",
            supplier="fleet", reference: str | None = None, final=True) -> Charge:
    trip = factories.trip(s, applicant_id=applicant, unit_id=unit, state=TripState.CONFIRMED,
                          depart_at=at - timedelta(hours=3), channel=channel)
    charge = factories.charge(s, trip=trip, total=total, channel=channel, supplier=supplier,
                              finished_at=at, final=final)
    charge.market_reference = Decimal(reference) if reference else None
    return charge


def test_savings_and_spend_add_up(api, in_db, demo, frozen_clock):
    frozen_clock(local(2026, 12, 20, 9))
    drc, market = demo["units"]["常州市发展和改革委员会"], demo["units"]["武进区市场监督管理局"]
    t1, t2 = demo["users"]["demo-traveler"], demo["users"]["demo-traveler-2"]
    data = [  # applicant, unit, total, local finish, channel, supplier, reference, final
        (t1, drc, "60.00", local(2026, 10, 3, 12), "fleet", "fleet", "250.00", True),
        (t1, drc, "120.00", local(2026, 10, 31, 23, 30), "fleet", "fleet", "425.00", True),
        (t1, drc, "30.00", local(2026, 11, 1, 0, 30), "fleet", "fleet", "250.00", True),
        (t2, market, "200.00", local(2026, 11, 15, 12), "fleet", "fleet", "212.50", True),
        (t2, market, "77.70", local(2026, 11, 16, 12), "ridehail", "sandbox-ride", None, True),
        (t1, drc, "425.00", local(2026, 11, 20, 12), "rental", "sandbox-rental", None, True),
        (t1, drc, "999.00", local(2026, 11, 21, 12), "fleet", "fleet", "1500.00", False),
        (t1, drc, "50.00", local(2026, 9, 30, 12), "fleet", "fleet", "250.00", True),
    ]
    with in_db() as s:
        for applicant, unit, total, at, channel, supplier, reference, final in data:
            _charge(s, applicant=applicant, unit=unit, total=total, at=at, channel=channel,
                    supplier=supplier, reference=reference, final=final)
    saved = ok(api.get("/reports/savings?from=2026-10&to=2026-11", "demo-supervisor"))
    cells = {(r["unit_id"], r["month"]): r for r in saved["items"]}
    assert set(cells) == {(drc, "2026-10"), (drc, "2026-11"), (market, "2026-11")}
    assert cells[(drc, "2026-10")]["trips"] == 2
    assert cells[(drc, "2026-10")]["savings"] == "495.00"  # 675.00 − 180.00
    assert cells[(drc, "2026-11")]["savings"] == "220.00"
    assert cells[(market, "2026-11")]["savings_rate"] == "0.0588"
    for key in ("market_reference", "charged", "savings"):
        assert Decimal(saved["totals"][key]) == sum(Decimal(r[key]) for r in saved["items"])
    assert saved["totals"]["savings"] == "727.50"

    spent = ok(api.get("/reports/spend?period=2026-11", "demo-supervisor"))
    keys = {(r["unit_id"], r["channel"], r["supplier"]): r["amount"] for r in spent["items"]}
    assert keys == {(drc, "fleet", "fleet"): "30.00", (drc, "rental", "sandbox-rental"): "425.00",
                    (market, "fleet", "fleet"): "200.00",
                    (market, "ridehail", "sandbox-ride"): "77.70"}
    assert Decimal(spent["totals"]["amount"]) == sum(Decimal(a) for a in keys.values())
    assert spent["totals"]["trips"] == 4
    whole_year = ok(api.get("/reports/spend?year=2026", "demo-finance"))
    assert whole_year["totals"]["amount"] == "962.70"
    # the unit's own finance sees its own unit only
    own = ok(api.get("/reports/spend?year=2026", "demo-unit-finance"))
    assert {r["unit_id"] for r in own["items"]} == {drc}
    assert api.get("/reports/spend?year=2026&period=2026-11", "demo-finance").status_code == 422
    book = openpyxl.load_workbook(io.BytesIO(
        api.get("/reports/spend?period=2026-11&format=xlsx", "demo-supervisor").data)).active
    amounts = [row[5].value for row in book.iter_rows(min_row=2)]
    assert all(isinstance(a, (int, float)) for a in amounts)
    assert amounts[-1] == pytest.approx(sum(amounts[:-1])) == pytest.approx(732.70)


def test_nev_share_per_unit_and_region(api, year_2026, past_run, fleet, make_trip, in_db, demo):
    nev = next(v["id"] for v in fleet["sedans"] if v["nev"])
    petrol = next(v["id"] for v in fleet["sedans"] if not v["nev"])
    driver = fleet["drivers"]["钱进"]
    past_run(nev, driver, km="30", started_at=local(2026, 11, 3, 9).astimezone(timezone.utc))
    past_run(petrol, driver, km="90", started_at=local(2026, 11, 4, 9).astimezone(timezone.utc))
    past_run(nev, driver, km="100", started_at=local(2026, 10, 4, 9).astimezone(timezone.utc))
    report = ok(api.get("/reports/nev-share?period=2026-11", "demo-supervisor"))
    units = {r["unit_id"]: r for r in report["items"]}
    drc = units[year_2026["drc"]]
    assert (drc["km"], drc["nev_km"], drc["km_share"]) == ("120.0", "30.0", "0.2500")
    assert drc["vehicles"] == 1 and drc["nev_vehicles"] == int(fleet["sedans"][2]["nev"])
    city = units[demo["units"]["常州市"]]
    assert city["vehicles"] == len(fleet["vehicles"]) - 1
    totals = report["totals"]
    assert totals["vehicles"] == len(fleet["vehicles"])
    assert totals["nev_vehicles"] == sum(v["nev"] for v in fleet["vehicles"])
    assert Decimal(totals["km"]) == sum(Decimal(r["km"]) for r in report["items"]) == 120
    assert sum(r["vehicles"] for r in report["regions"]) == totals["vehicles"]
    year = ok(api.get("/reports/nev-share?year=2026", "demo-supervisor"))
    assert year["totals"]["km_share"] == "0.5909"  # 130 of 220


def test_quarterly_lists(api, in_db, demo, frozen_clock, make_trip):
    frozen_clock(local(2026, 12, 1, 9))
    drc, market = demo["units"]["常州市发展和改革委员会"], demo["units"]["武进区市场监督管理局"]
    from app.supervision.models import Outcome, Violation, ViolationState
    with in_db() as s:
        for n in range(20):
            factories.trip(s, applicant_id=demo["users"]["demo-traveler"], unit_id=drc,
                           state=TripState.CONFIRMED, depart_at=local(2026, 7, 1 + n, 9))
        for n in range(25):
            factories.trip(s, applicant_id=demo["users"]["demo-traveler-2"], unit_id=market,
                           state=TripState.SETTLED, depart_at=local(2026, 8, 1 + n, 9))
        for n in range(3):
            s.add(Violation(rule="odometer_gap", subject=f"trip:x{n}", severity="high",
                            state=ViolationState.CLOSED, outcome=Outcome.UPHELD, unit_id=market,
                            occurred_at=local(2026, 9, 1 + n, 9), facts={}))
    listed = ok(api.get("/reports/lists?quarter=2026Q3", "demo-supervisor"))
    assert [u["unit_id"] for u in listed["positive"]] == [drc]
    assert [(u["unit_id"], u["upheld_violations"]) for u in listed["negative"]] == [(market, 3)]
    assert listed["published"] is False
    assert api.post("/reports/lists/2026Q3/publish", "demo-admin").status_code == 403
    assert api.post("/reports/lists/2026Q4/publish", "demo-supervisor").status_code == 409
    assert api.post("/reports/lists/2026Q9/publish", "demo-supervisor").status_code == 422
    published = ok(api.post("/reports/lists/2026Q3/publish", "demo-supervisor"))
    assert published["published"] is True and published["positive"] == listed["positive"]
    assert api.post("/reports/lists/2026Q3/publish", "demo-supervisor").status_code == 409
    for bad in ("2026-3", "0000Q1", "2100Q1", "2026Q0"):
        assert api.get(f"/reports/lists?quarter={bad}", "demo-supervisor").status_code == 422
    assert api.post("/reports/lists/0000Q1/publish", "demo-supervisor").status_code == 422
    for bad in ("period=0000-01", "period=2026-13", "from=1999-12", "year=1999"):
        assert api.get(f"/reports/spend?{bad}", "demo-supervisor").status_code == 422, bad
